import { api } from '../../api/api-client.js';
import { isNotServed } from '../../api/api-error.js';
import type { AgentView, DeploymentSummary, ModelEntry, VersionPerformanceView } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { NotServed } from '../../components/not-served.js';
import { usePolled } from '../../hooks/use-polled.js';
import { useSession } from '../../session/session-context.js';
import { DeployForm } from './deploy-form.js';
import { DeploymentsTable } from './deployments-table.js';
import { GatewayModelsTable } from './gateway-models-table.js';
import { LearnForm } from './learn-form.js';
import { ModelVersionsTable } from './model-versions-table.js';

const NONE: never[] = [];

/** Models and versions with their performance, deployments and their gateways, and (admins) deploying and learning new models. */
export function ModelsPage() {
  const { isAdmin } = useSession();
  const models = usePolled(() => api.get<{ models: ModelEntry[] }>('/api/models'), []);
  const agents = usePolled(() => api.get<{ agents: AgentView[] }>('/api/agents'), []);
  const performance = usePolled(() => api.get<{ versions: VersionPerformanceView[] }>('/api/models/performance'), []);
  const deployments = usePolled(() => api.get<{ deployments: DeploymentSummary[] }>('/api/deployments'), [], 5_000);

  const modelList = models.data?.models ?? NONE;
  const agentList = agents.data?.agents ?? NONE;
  return (
    <>
      <h1 class="page-title">Models</h1>
      <ErrorNotice error={models.error} context="Models" />
      <ErrorNotice error={agents.error} context="Gateways" />
      {performance.error && !isNotServed(performance.error) ? <ErrorNotice error={performance.error} context="Performance" /> : null}
      {isNotServed(performance.error) ? <NotServed what="Performance per version" /> : null}
      <div class={isAdmin ? 'models-layout' : ''}>
        <div class="models-main">
          {models.data && modelList.length === 0 ? <p class="empty">No models in the registry yet. Upload a package with `vigil model push`.</p> : null}
          {modelList.map((m) => (
            <ModelVersionsTable
              model={m}
              agents={agentList}
              performance={performance.data?.versions}
              canRetrain={isAdmin}
              onChanged={() => {
                models.reload();
                deployments.reload();
              }}
              key={m.name}
            />
          ))}
        </div>
        {isAdmin ? (
          <div class="models-side">
            <DeployForm models={modelList} agents={agentList} onDeployed={() => deployments.reload()} />
            <LearnForm
              agents={agentList}
              onChanged={() => {
                models.reload();
                deployments.reload();
              }}
            />
          </div>
        ) : null}
      </div>
      <h2 class="section-title">Deployments</h2>
      <ErrorNotice error={deployments.error} context="Deployments" />
      {deployments.data && deployments.data.deployments.length === 0 ? <p class="empty">No deployments yet.</p> : null}
      {deployments.data && deployments.data.deployments.length > 0 ? <DeploymentsTable deployments={deployments.data.deployments} onChanged={() => deployments.reload()} /> : null}
      <h2 class="section-title">What each gateway runs</h2>
      <GatewayModelsTable agents={agentList} modelNames={modelList.map((m) => m.name)} />
    </>
  );
}
