/**
 * "Check for updates" (`GET environments/{id}/outdated`): each package with a newer
 * release, what pyproject's constraints allow, an Upgrade per row and Upgrade all. The
 * notebook section reuses it, with its constraints in the notebook's '# /// script' block.
 */
import * as React from 'react';

import { errorMessage, UvKernelsClient } from '../api';
import { TextButton } from '../components/common';
import { IEnvironment, IOutdatedReply } from '../tokens';

export function OutdatedSection(props: {
  env: IEnvironment;
  client: UvKernelsClient;
  busy: boolean;
  /** Re-check when this changes (an operation on the environment ended). */
  version: number;
  upgrade: (packages: string[]) => void;
  /** Where the constraints live, as the messages name it (default: pyproject.toml). */
  constraints?: string;
  /** What Upgrade all runs, as its tooltip says (default: by the environment's kind). */
  upgradeAllTitle?: string;
}): JSX.Element {
  const { env, client, busy, version, upgrade } = props;
  const constraints = props.constraints ?? 'pyproject.toml';
  const [reply, setReply] = React.useState<IOutdatedReply | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);
  const checked = React.useRef(false);

  const check = React.useCallback(
    async (refresh: boolean) => {
      setLoading(true);
      setError(null);
      try {
        setReply(await client.outdated(env.id, refresh));
        checked.current = true;
      } catch (e) {
        setError(errorMessage(e));
      } finally {
        setLoading(false);
      }
    },
    [client, env.id]
  );

  // After an upgrade (or any change) the old answer is stale: check again.
  React.useEffect(() => {
    if (checked.current) {
      void check(true);
    }
  }, [version, check]);

  const readOnly = !!env.read_only;
  const upgradable = (reply?.packages ?? []).filter(p => p.allowed !== null);
  return (
    <div className="jp-UvKernels-outdated">
      <div className="jp-UvKernels-row">
        <TextButton
          accept={!reply}
          aria-label={`${reply ? 'Check again' : 'Check for updates'} (${env.name})`}
          title="Ask the index for newer releases (uv pip list --outdated; for projects also what the constraints allow)"
          disabled={loading}
          onClick={() => void check(reply !== null)}
        >
          {reply ? 'Check again' : 'Check for updates'}
        </TextButton>
        {reply && !readOnly && (
          <TextButton
            aria-label={`Upgrade all packages of ${env.name}`}
            title={
              props.upgradeAllTitle ??
              (env.kind === 'project'
                ? 'uv lock --upgrade within pyproject.toml, then uv sync --frozen'
                : 'uv pip install --upgrade every installed package')
            }
            disabled={busy || upgradable.length === 0}
            onClick={() => upgrade([])}
          >
            Upgrade all
          </TextButton>
        )}
        {loading && <span className="jp-UvKernels-muted">Asking the index…</span>}
        {reply && !loading && (
          <span
            className="jp-UvKernels-muted"
            title={reply.cached ? 'A recent answer, kept by the server' : undefined}
          >
            checked {new Date(reply.checked_at).toLocaleTimeString()}
            {reply.cached ? ' (cached)' : ''}
          </span>
        )}
      </div>
      {error && (
        <div className="jp-UvKernels-error" role="alert">
          {error}
        </div>
      )}
      {reply?.problem && (
        <div className="jp-UvKernels-warn" role="status" data-outdated="problem">
          Cannot tell which upgrades {constraints} allows: {reply.problem}
        </div>
      )}
      {reply && reply.packages.length === 0 && (
        <div className="jp-UvKernels-ok" data-outdated="none">
          Everything is up to date.
        </div>
      )}
      {reply && reply.packages.length > 0 && (
        <table className="jp-UvKernels-table" aria-label={`Outdated packages of ${env.name}`}>
          <thead>
            <tr>
              <th scope="col">Package</th>
              <th scope="col">Installed</th>
              <th scope="col">Latest</th>
              <th
                scope="col"
                title="The newest version the constraints allow: what Upgrade installs"
              >
                Upgrade to
              </th>
              <th scope="col">
                <span className="jp-UvKernels-visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {reply.packages.map(pkg => (
              <tr key={pkg.name} data-package={pkg.name}>
                <td>
                  <span className="jp-UvKernels-package-name">{pkg.name}</span>
                  {pkg.direct && (
                    <span className="jp-UvKernels-tag" title="A direct dependency">
                      direct
                    </span>
                  )}
                </td>
                <td data-column="installed">{pkg.installed}</td>
                <td data-column="latest">{pkg.latest ?? '?'}</td>
                <td data-column="allowed">
                  {pkg.allowed ??
                    (reply.problem ? (
                      <span className="jp-UvKernels-muted" title={reply.problem}>
                        unknown
                      </span>
                    ) : (
                      <span
                        className="jp-UvKernels-muted"
                        title={`The constraints in ${constraints} hold it at the installed version; edit them to go further`}
                      >
                        held by constraints
                      </span>
                    ))}
                </td>
                <td>
                  {!readOnly && pkg.allowed !== null && (
                    <TextButton
                      aria-label={`Upgrade ${pkg.name} to ${pkg.allowed}`}
                      disabled={busy}
                      onClick={() => upgrade([pkg.name])}
                    >
                      Upgrade
                    </TextButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
