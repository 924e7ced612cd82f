import { useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { isNotServed } from '../../api/api-error.js';
import type { Role, UserView } from '../../api/api-types.js';
import { ConfirmButton } from '../../components/confirm-button.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { NotServed } from '../../components/not-served.js';
import { formatDateTime } from '../../format/time-format.js';
import { usePolled } from '../../hooks/use-polled.js';
import { useSession } from '../../session/session-context.js';
import { useAction } from './use-action.js';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const MIN_PASSWORD = 12;

/** Accounts of the web app: add with a role and password, change the role, disable, remove. */
export function UsersAdmin() {
  const { user: me } = useSession();
  const users = usePolled(() => api.get<{ users: UserView[] }>('/api/users'), []);
  const action = useAction();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [password, setPassword] = useState('');

  if (isNotServed(users.error)) return <NotServed what="User accounts" />;
  const userPath = (n: string) => `/api/users/${encodeURIComponent(n)}`;
  const change = async (context: string, act: () => Promise<unknown>) => {
    if (await action.run(context, act)) users.reload();
  };
  const add = async (event: Event) => {
    event.preventDefault();
    const added = await action.run(`Adding ${name}`, () => api.post('/api/users', { name: name.trim(), role, password }));
    if (added) {
      setName('');
      setPassword('');
      users.reload();
    }
  };

  return (
    <section class="card" data-testid="users-admin">
      <h2>Users</h2>
      <ErrorNotice error={users.error} context="Users" />
      <ErrorNotice error={action.error?.error} context={action.error?.context} />
      <table class="table table-middle">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Created</th>
            <th>Status</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {(users.data?.users ?? []).map((u) => (
            <tr key={u.name} data-testid="user-row" data-user={u.name} class={u.disabled ? 'muted' : ''}>
              <td>
                {u.name}
                {u.name === me.name ? <span class="muted small"> (you)</span> : null}
              </td>
              <td>
                <select value={u.role} disabled={action.busy} onChange={(e) => void change(`Changing the role of ${u.name}`, () => api.put(userPath(u.name), { role: e.currentTarget.value }))} data-testid="user-role" aria-label={`Role of ${u.name}`}>
                  {ROLES.map((r) => (
                    <option value={r} key={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </td>
              <td class="small">{formatDateTime(u.createdAt).slice(0, 16)}</td>
              <td>{u.disabled ? <span class="badge badge-off">disabled</span> : <span class="badge badge-ok">active</span>}</td>
              <td>
                <div class="actions">
                  <button type="button" disabled={action.busy} onClick={() => void change(`${u.disabled ? 'Enabling' : 'Disabling'} ${u.name}`, () => api.put(userPath(u.name), { disabled: !u.disabled }))} data-testid="user-toggle-disabled">
                    {u.disabled ? 'Enable' : 'Disable'}
                  </button>
                  <ConfirmButton label="Remove" confirmLabel={`Remove ${u.name}?`} disabled={action.busy} onConfirm={() => void change(`Removing ${u.name}`, () => api.delete(userPath(u.name)))} testId="user-remove" />
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="form-row add-form" onSubmit={add} data-testid="user-add-form">
        <input placeholder="User name" value={name} required onInput={(e) => setName(e.currentTarget.value)} data-testid="user-add-name" aria-label="New user name" />
        <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)} data-testid="user-add-role" aria-label="New user role">
          {ROLES.map((r) => (
            <option value={r} key={r}>
              {r}
            </option>
          ))}
        </select>
        <input type="password" placeholder={`Password (${MIN_PASSWORD}+ characters)`} value={password} minLength={MIN_PASSWORD} required autocomplete="new-password" onInput={(e) => setPassword(e.currentTarget.value)} data-testid="user-add-password" aria-label="New user password" />
        <button type="submit" disabled={action.busy} data-testid="user-add-submit">
          Add user
        </button>
      </form>
    </section>
  );
}
