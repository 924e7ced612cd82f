import type { ResolutionLabel } from '../../api/api-types.js';

/** The answers as the web app names them (the API's labels are real|normal|unsure). */
export const LABEL_TEXT: Record<ResolutionLabel, string> = {
  real: 'Real problem',
  normal: 'Normal operation',
  unsure: 'Not sure',
};
