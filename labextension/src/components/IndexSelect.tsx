import * as React from 'react';

import { IIndex } from '../tokens';

/** Where an index comes from, as the select says it. */
export function indexOrigin(index: IIndex): string {
  return index.source === 'pyproject' ? "this project's pyproject.toml" : 'server configuration';
}

/**
 * Choose a named package index, or none (uv's default: PyPI, or what uv's own
 * configuration says). Only names are sent; the server knows the URLs.
 */
export function IndexSelect(props: {
  id: string;
  indexes: ReadonlyArray<IIndex>;
  value: string;
  onChange: (name: string) => void;
  disabled?: boolean;
  invalid?: boolean;
  describedBy?: string;
  'aria-label'?: string;
}): JSX.Element {
  const { indexes, value } = props;
  const chosen = indexes.find(i => i.name === value);
  return (
    <select
      id={props.id}
      className="jp-UvKernels-select jp-UvKernels-index-select"
      value={value}
      disabled={props.disabled}
      aria-label={props['aria-label']}
      aria-invalid={props.invalid || undefined}
      aria-describedby={props.describedBy}
      title={chosen ? `${chosen.url} (from ${indexOrigin(chosen)})` : "uv's default index"}
      onChange={event => props.onChange(event.target.value)}
    >
      <option value="">Default index</option>
      {indexes.map(index => (
        <option
          key={`${index.source}:${index.name}`}
          value={index.name}
          title={`${index.url} (from ${indexOrigin(index)})`}
        >
          {index.name}
          {index.source === 'pyproject' ? ' (pyproject)' : ''}
        </option>
      ))}
    </select>
  );
}
