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
import type { IDisposable } from '@lumino/disposable';
import type { Message } from '@lumino/messaging';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { IPanelHost, IPanelModels } from './components/common';
import { EnvironmentList } from './components/EnvironmentList';
import { OperationList } from './components/OperationList';
import { uvEnvironmentsIcon } from './icons';
import { IUvKernelsModel } from './tokens';

/** The most of the height the Operations section takes to show its content in full. */
const OPERATIONS_SHARE = 0.5;
/** The share of the height a section added below (Jobs) gets when it is first unfolded. */
const EXTRA_SHARE = 0.35;

function panelModels(model: IUvKernelsModel): IPanelModels {
  return {
    environments: model.environmentsModel,
    operations: model.operationsModel,
    actions: model.actions
  };
}

class EnvironmentsSection extends ReactWidget {
  constructor(
    private _model: IUvKernelsModel,
    private _host: IPanelHost
  ) {
    super();
    this.addClass('jp-UvKernels-section');
    this.title.label = 'Environments';
    this._showPlainVenvs = _model.settings.showPlainVenvs;
    // The list follows its models itself; only a settings change needs a render from here.
    _model.changed.connect(() => {
      if (_model.settings.showPlainVenvs !== this._showPlainVenvs) {
        this._showPlainVenvs = _model.settings.showPlainVenvs;
        this.update();
      }
    }, this);
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
        models={panelModels(this._model)}
        host={this._host}
        showPlainVenvs={this._showPlainVenvs}
        showCreateForm={this._showCreateForm}
        onCloseCreateForm={() => (this.showCreateForm = false)}
      />
    );
  }

  private _showCreateForm = false;
  private _showPlainVenvs: boolean;
}

class OperationsSection extends ReactWidget {
  constructor(
    private _model: IUvKernelsModel,
    private _host: IPanelHost
  ) {
    super();
    this.addClass('jp-UvKernels-section');
    this.title.label = 'Operations';
  }

  render(): JSX.Element {
    return <OperationList models={panelModels(this._model)} host={this._host} />;
  }
}

/** The "uv environments" sidebar: a toolbar, the environment list and the operation log. */
export class UvKernelsPanel extends SidePanel {
  constructor(model: IUvKernelsModel, host: IPanelHost) {
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

    this._environments = new EnvironmentsSection(model, host);
    this._operations = new OperationsSection(model, host);

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
          model.refresh().catch(error => host.notifyError(String(error?.message ?? error)));
        }
      })
    );

    this.addWidget(this._environments);
    this.addWidget(this._operations);
    const accordion = this.content as AccordionPanel;
    accordion.setRelativeSizes([3, 1]);
    // Once the user drags the divider, the sizes are theirs.
    accordion.handleMoved.connect(() => {
      this._userSized = true;
    });
    model.operationsModel.changed.connect(this._scheduleFit, this);
    model.environmentsModel.changed.connect(this._scheduleFit, this);
    // The list is re-read periodically only while a view of it is shown: with the sidebar
    // closed, the panel costs the server no checks.
    this._environmentsModel = model.environmentsModel;
    this._watching = model.environmentsModel.watch(() => this.isVisible);
    if (typeof ResizeObserver !== 'undefined') {
      // An environment opened or closed, the form shown: the list's height changed.
      this._observer = new ResizeObserver(() => this._scheduleFit());
    }
  }

  /**
   * Add a section below the environments and the operations (issue 13: Jobs). It keeps
   * the height it gets; `collapsed`: folded at first.
   */
  addSection(widget: Widget, options: { collapsed?: boolean } = {}): void {
    const accordion = this.content as AccordionPanel;
    const sizes = accordion.relativeSizes();
    this.addWidget(widget);
    this._extra.push(widget);
    accordion.setRelativeSizes([...sizes.map(size => size * 4), 1]);
    if (options.collapsed) {
      accordion.collapse(accordion.widgets.indexOf(widget));
    }
  }

  /** Unfold a section added with `addSection`, with a share of the height to show it. */
  expandSection(widget: Widget): void {
    const accordion = this.content as AccordionPanel;
    const index = accordion.widgets.indexOf(widget);
    if (index < 0) {
      return;
    }
    accordion.expand(index);
    // Folded before it was ever laid out, it has no height of its own to come back to.
    const sizes = accordion.relativeSizes();
    if (sizes[index] < EXTRA_SHARE / 4) {
      accordion.setRelativeSizes(
        sizes.map((size, i) => (i === index ? EXTRA_SHARE : size * (1 - EXTRA_SHARE)))
      );
    }
  }

  /** Open the "New environment" form (the command palette entry uses this). */
  showCreateForm(): void {
    this._environments.showCreateForm = true;
  }

  dispose(): void {
    this._watching.dispose();
    this._observer?.disconnect();
    cancelAnimationFrame(this._fitFrame);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._environmentsModel.shown();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._scheduleFit();
  }

  private _scheduleFit(): void {
    cancelAnimationFrame(this._fitFrame);
    this._fitFrame = requestAnimationFrame(() => this._fit());
  }

  /**
   * Share the height between the sections: the Operations section gets what its content
   * needs, up to OPERATIONS_SHARE of the height, and any height the list leaves free.
   * Refitted when either content changes size (a log grows, an environment opens).
   */
  private _fit(): void {
    const envs = this._environments;
    const ops = this._operations;
    if (this._userSized || !this.isVisible || envs.isHidden || ops.isHidden) {
      return;
    }
    const available = envs.node.offsetHeight + ops.node.offsetHeight;
    const envContent = envs.node.firstElementChild as HTMLElement | null;
    const opsContent = ops.node.firstElementChild as HTMLElement | null;
    if (available <= 0 || !envContent || !opsContent) {
      return;
    }
    if (this._observer && !(this._observed[0] === envContent && this._observed[1] === opsContent)) {
      this._observer.disconnect();
      this._observer.observe(envContent);
      this._observer.observe(opsContent);
      this._observed = [envContent, opsContent];
    }
    // Operations show in full (logs included) up to half the height, and take whatever
    // the list leaves free.
    const opsNeed = Math.min(opsContent.offsetHeight, OPERATIONS_SHARE * available);
    const opsHeight = Math.max(opsNeed, available - envContent.offsetHeight);
    const envHeight = Math.max(available - opsHeight, 0);
    if (Math.abs(envs.node.offsetHeight - envHeight) < 4) {
      return;
    }
    // Sections added later keep their share of the height.
    const accordion = this.content as AccordionPanel;
    const shares = accordion.relativeSizes();
    const mainShare = shares[0] + shares[1];
    const extra = shares
      .slice(2)
      .map(share => (mainShare > 0 ? (share * available) / mainShare : 0));
    accordion.setRelativeSizes([envHeight, opsHeight, ...extra]);
  }

  private _environments: EnvironmentsSection;
  private _operations: OperationsSection;
  private _extra: Widget[] = [];
  private _environmentsModel: IUvKernelsModel['environmentsModel'];
  private _watching: IDisposable;
  private _observer: ResizeObserver | null = null;
  private _observed: Element[] = [];
  private _fitFrame = 0;
  private _userSized = false;
}
