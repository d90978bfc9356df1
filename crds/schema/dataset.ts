import { type Static, Type } from 'typebox';
import { Time } from './common.ts';
import { AGE_COLUMN, defineKind } from './define.ts';

export const DatasetSpec = Type.Object({
  url: Type.String({ description: 'Where the sample index is: a path on the node or an s3:// URL.' }),
  format: Type.String({ description: 'Format of the sample index, e.g. txt or csv.' }),
  nodeName: Type.String({ description: 'Node that holds the data; the GM sends the Dataset to its LC.' }),
  credentialName: Type.Optional(Type.String({ description: 'Secret with the storage credentials for url.' })),
});
export type DatasetSpec = Static<typeof DatasetSpec>;

/** Written by the GM from what the node's LC reports (`{"numberOfSamples":N}`). */
export const DatasetStatus = Type.Object({
  numberOfSamples: Type.Integer({ description: 'Samples the LC counted.' }),
  updateTime: Type.Optional(Time),
});
export type DatasetStatus = Static<typeof DatasetStatus>;

export const datasetKind = defineKind({
  kind: 'Dataset',
  plural: 'datasets',
  // No short name, as in Sedna: `ds` would shadow DaemonSets.
  description: 'A dataset on one node, used by training and evaluation workers.',
  spec: DatasetSpec,
  status: DatasetStatus,
  printerColumns: [
    { name: 'Node', type: 'string', jsonPath: '.spec.nodeName' },
    { name: 'Format', type: 'string', jsonPath: '.spec.format' },
    { name: 'Samples', type: 'integer', jsonPath: '.status.numberOfSamples' },
    { name: 'URL', type: 'string', jsonPath: '.spec.url', priority: 1 },
    AGE_COLUMN,
  ],
});

export const Dataset = datasetKind.schema;
export type Dataset = Static<typeof Dataset>;
