import { LabIcon } from '@jupyterlab/ui-components';

import environmentsSvg from '../style/icons/uv-environments.svg';

/** The sidebar tab icon: stacked layers, one per environment. */
export const uvEnvironmentsIcon = new LabIcon({
  name: 'jupyter-uv-kernels:environments',
  svgstr: environmentsSvg
});
