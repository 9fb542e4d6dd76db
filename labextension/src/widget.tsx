/**
 * Thin glue: the left sidebar panel that hosts the React views.
 */
import * as React from 'react';
import {
  addIcon,
  ReactWidget,
  refreshIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { IPanelActions } from './components/common';
import { EnvironmentList } from './components/EnvironmentList';
import { OperationList } from './components/OperationList';
import { uvEnvironmentsIcon } from './icons';
import { UvKernelsModel } from './model';

class EnvironmentsSection extends ReactWidget {
  constructor(
    private _model: UvKernelsModel,
    private _actions: IPanelActions
  ) {
    super();
    this.addClass('jp-UvKernels-section');
    this.title.label = 'Environments';
  }

  get showCreateForm(): boolean {
    return this._showCreateForm;
  }
  set showCreateForm(value: boolean) {
    this._showCreateForm = value;
    this.formToggled?.(value);
    this.update();
  }

  /** Called when the form opens or closes (the toolbar button shows it as pressed). */
  formToggled: ((shown: boolean) => void) | null = null;

  render(): JSX.Element {
    return (
      <EnvironmentList
        model={this._model}
        actions={this._actions}
        showCreateForm={this._showCreateForm}
        onCloseCreateForm={() => (this.showCreateForm = false)}
      />
    );
  }

  private _showCreateForm = false;
}

class OperationsSection extends ReactWidget {
  constructor(
    private _model: UvKernelsModel,
    private _actions: IPanelActions
  ) {
    super();
    this.addClass('jp-UvKernels-section');
    this.title.label = 'Operations';
  }

  render(): JSX.Element {
    return <OperationList model={this._model} actions={this._actions} />;
  }
}

/** The "uv environments" sidebar: a toolbar, the environment list and the operation log. */
export class UvKernelsPanel extends SidePanel {
  constructor(model: UvKernelsModel, actions: IPanelActions) {
    super();
    this.id = 'jp-uv-kernels';
    this.addClass('jp-UvKernels-panel');
    this.title.icon = uvEnvironmentsIcon;
    this.title.caption = 'uv environments';
    this.node.setAttribute('aria-label', 'uv environments');

    const heading = new Widget({ node: document.createElement('h2') });
    heading.node.textContent = 'uv environments';
    heading.addClass('jp-text-truncated');
    this.header.addWidget(heading);

    this._environments = new EnvironmentsSection(model, actions);
    this._operations = new OperationsSection(model, actions);

    const newButton = new ToolbarButton({
      icon: addIcon,
      tooltip: 'New environment',
      pressed: false,
      onClick: () => {
        this._environments.showCreateForm = !this._environments.showCreateForm;
      }
    });
    this._environments.formToggled = shown => {
      newButton.pressed = shown;
    };
    this.toolbar.addItem('new', newButton);
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Rescan the roots for environments',
        onClick: () => {
          model.refresh().catch(error => actions.notifyError(String(error?.message ?? error)));
        }
      })
    );

    this.addWidget(this._environments);
    this.addWidget(this._operations);
    // The list gets most of the height; the operation log a quarter.
    (this.content as AccordionPanel).setRelativeSizes([3, 1]);
  }

  /** Open the "New environment" form (the command palette entry uses this). */
  showCreateForm(): void {
    this._environments.showCreateForm = true;
  }

  private _environments: EnvironmentsSection;
  private _operations: OperationsSection;
}
