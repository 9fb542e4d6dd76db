import * as React from 'react';

import { IEnvironmentDetails } from '../tokens';

/** The exact lock check (`uv sync --check`) and `uv pip check` of one environment. */
export function Checks(props: { details: IEnvironmentDetails }): JSX.Element {
  const { drift, pip_check } = props.details;
  return (
    <div className="jp-UvKernels-checks">
      {drift && (
        <div className="jp-UvKernels-check" data-check="drift">
          <span className="jp-UvKernels-label">Lock file</span>{' '}
          {!drift.checked ? (
            <span className="jp-UvKernels-muted">{drift.output || 'not checked'}</span>
          ) : drift.in_sync ? (
            <span className="jp-UvKernels-ok">in sync with uv.lock</span>
          ) : (
            <span className="jp-UvKernels-warn">out of sync with uv.lock</span>
          )}
          {drift.checked && !drift.in_sync && drift.output && (
            <pre className="jp-UvKernels-output">{drift.output}</pre>
          )}
        </div>
      )}
      {pip_check && (
        <div className="jp-UvKernels-check" data-check="pip-check">
          <span className="jp-UvKernels-label">uv pip check</span>{' '}
          {pip_check.ok ? (
            <span className="jp-UvKernels-ok">no conflicts</span>
          ) : (
            <span className="jp-UvKernels-warn">problems found</span>
          )}
          {!pip_check.ok && pip_check.output && (
            <pre className="jp-UvKernels-output">{pip_check.output}</pre>
          )}
        </div>
      )}
    </div>
  );
}
