import type { CodegenConfig } from '@graphql-codegen/cli'

// Typed documents for every operation in src/, generated from the server's
// schema.graphql (the source of truth). Output is committed; `npm run build`
// regenerates it so CI notices a stale client.
const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*'],
  ignoreNoDocuments: true,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { Time: 'string', JSON: 'any', URN: 'string' },
        enumsAsTypes: true,
        useTypeImports: true,
        documentMode: 'documentNode',
      },
    },
  },
}
export default config
