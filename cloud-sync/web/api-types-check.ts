/**
 * Compile-time only: the web app's copies of the hub's answer shapes
 * (src/api/api-types.ts) must accept what the hub declares. Compiled by the
 * hub's tsconfig (Node types available), not by the browser build; a change
 * of the hub's types that the web app would misread fails `npm run typecheck`.
 */
import type { ModelVersions, AgentHealth, DeploymentStatus } from '../../shared/sync-protocol.js';
import type { AgentView } from '../api/agent-view.js';
import type { TargetView } from '../deployments/deployer.js';
import type { ShadowComparison } from '../api/shadow-comparison.js';
import type { DeploymentRecord, ModelVersionRecord, Resolution, VersionPerformance } from '../storage/hub-storage.js';
import type * as Web from './src/api/api-types.js';

/** Resolves to `From` when it is assignable to `To`, a compile error otherwise. */
type Assignable<From extends To, To> = From;

export type HubShapesFitTheWebApp = [
  Assignable<Resolution, Web.Resolution>,
  Assignable<ModelVersions, Web.ModelVersions>,
  Assignable<AgentHealth, Web.AgentHealth>,
  Assignable<AgentView, Web.AgentView>,
  Assignable<DeploymentStatus, Web.DeploymentStatus>,
  Assignable<DeploymentRecord, Web.DeploymentRecord>,
  Assignable<TargetView, Web.DeploymentView['targets'][number]>,
  Assignable<Omit<ModelVersionRecord, 'manifest' | 'signature'>, Web.ModelVersionSummary>,
  Assignable<VersionPerformance, Web.VersionPerformance>,
  Assignable<ShadowComparison, Web.ShadowComparisonAnswer>,
];
