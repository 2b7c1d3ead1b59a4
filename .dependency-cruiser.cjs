// Layer rules checked by `npm run lint` (dependency-cruiser). Type-only imports count too
// (tsPreCompilationDeps), so a type cycle or a type import of the HTTP layer fails like any other.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-api-in-lower-layers',
      comment: 'broker, store, services, plugins, cluster and core sit below the HTTP layer: they never import src/api/.',
      severity: 'error',
      from: { path: '^src/(broker|store|services|plugins|cluster|core)/' },
      to: { path: '^src/api/' }
    },
    {
      name: 'core-imports-no-layer',
      comment: 'src/core/ is below every layer: it may import generated/ and packages, nothing else of src/.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' }
    },
    {
      name: 'no-plugins-in-services',
      comment: 'Plugins use services (settings, alarms) and implement the Plugin shape services/plugins.ts declares: services never import src/plugins/, so the two folders cannot form a cycle.',
      severity: 'error',
      from: { path: '^src/services/' },
      to: { path: '^src/plugins/' }
    },
    {
      name: 'no-circular',
      comment: 'No import cycles in src/, type-only imports included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing is a typo or a missing dependency.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts', '.json']
    }
  }
}
