import { AgentsAdmin } from './agents-admin.js';
import { CausesEditor } from './causes-editor.js';
import { UsersAdmin } from './users-admin.js';

/** Admins only: users, the causes list, and the gateways' agent accounts. */
export function AdminPage() {
  return (
    <>
      <h1 class="page-title">Admin</h1>
      <div class="admin-layout">
        <UsersAdmin />
        <CausesEditor />
      </div>
      <AgentsAdmin />
    </>
  );
}
