import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['generated/**', 'sdk/src/generated/**', 'sdk/dist/**', 'dist/**', 'node_modules/**', 'sdk/node_modules/**', 'bench/results/**']
  })
]
