import { type Static, Type } from 'typebox';
import { KeyValue, Time } from './common.ts';
import { AGE_COLUMN, defineKind } from './define.ts';

export const ModelSpec = Type.Object({
  url: Type.String({ description: 'Where the model is: a path or an s3:// URL.' }),
  format: Type.String({ description: 'Model format, e.g. pb, pth or ckpt.' }),
  // Sedna's JSON name, snake case and all.
  device_soc_versions: Type.Optional(
    Type.Array(Type.String(), { description: 'SoC versions the model is built for (Ascend devices).' }),
  ),
  credentialName: Type.Optional(Type.String({ description: 'Secret with the storage credentials for url.' })),
});
export type ModelSpec = Static<typeof ModelSpec>;

export const ModelStatus = Type.Object({
  updateTime: Type.Optional(Time),
  metrics: Type.Optional(Type.Array(KeyValue, { description: 'Evaluation results, e.g. precision.' })),
});
export type ModelStatus = Static<typeof ModelStatus>;

export const modelKind = defineKind({
  kind: 'Model',
  plural: 'models',
  description: 'A trained model that inference and learning jobs reference by name.',
  spec: ModelSpec,
  status: ModelStatus,
  printerColumns: [
    { name: 'Format', type: 'string', jsonPath: '.spec.format' },
    { name: 'URL', type: 'string', jsonPath: '.spec.url' },
    AGE_COLUMN,
  ],
});

export const Model = modelKind.schema;
export type Model = Static<typeof Model>;
