import * as React from 'react';
import { closeIcon, ToolbarButtonComponent } from '@jupyterlab/ui-components';

import { TextButton } from '../components/common';

/** One `name = value` row of the notebook's parameters. */
export interface IParameterRow {
  key: number;
  name: string;
  value: string;
}

let nextKey = 0;

export function newParameterRow(name = '', value = ''): IParameterRow {
  return { key: nextKey++, name, value };
}

/**
 * The notebook's papermill parameters as name = value rows, added and removed one by one.
 * The values replace those of the cell tagged `parameters`.
 */
export function ParameterRows(props: {
  id: string;
  rows: ReadonlyArray<IParameterRow>;
  onChange: (rows: IParameterRow[]) => void;
  invalid?: boolean;
  describedBy?: string;
}): JSX.Element {
  const { rows, onChange } = props;
  const update = (key: number, change: Partial<IParameterRow>): void =>
    onChange(rows.map(row => (row.key === key ? { ...row, ...change } : row)));
  return (
    <div className="jp-UvKernels-job-parameters" id={props.id}>
      {rows.map((row, index) => (
        <div className="jp-UvKernels-row jp-UvKernels-job-parameter" key={row.key}>
          <input
            className="jp-UvKernels-input jp-UvKernels-job-parameter-name"
            aria-label={`Parameter ${index + 1} name`}
            aria-invalid={props.invalid || undefined}
            aria-describedby={props.describedBy}
            placeholder="name"
            spellCheck={false}
            value={row.name}
            onChange={event => update(row.key, { name: event.target.value })}
          />
          <span aria-hidden="true">=</span>
          <input
            className="jp-UvKernels-input jp-UvKernels-job-parameter-value"
            aria-label={`Parameter ${index + 1} value`}
            aria-describedby={props.describedBy}
            placeholder="value"
            spellCheck={false}
            value={row.value}
            onChange={event => update(row.key, { value: event.target.value })}
          />
          <ToolbarButtonComponent
            icon={closeIcon}
            className="jp-UvKernels-job-parameter-remove"
            tooltip={`Remove parameter ${index + 1}`}
            onClick={() => onChange(rows.filter(r => r.key !== row.key))}
          />
        </div>
      ))}
      <div className="jp-UvKernels-row">
        <TextButton
          onClick={() => onChange([...rows, newParameterRow()])}
          title="Add a name = value row; papermill puts it after the cell tagged parameters"
        >
          Add parameter
        </TextButton>
      </div>
    </div>
  );
}
