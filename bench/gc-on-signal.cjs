// Preloaded (--require) into the Node-based systems of the connections scenario, run with --expose-gc:
// SIGUSR2 runs a full garbage collection, so RSS is read as retained memory, not as collector slack
// (which varies by megabytes with the moment the last collection happened).
'use strict'
process.on('SIGUSR2', () => { if (typeof global.gc === 'function') global.gc() })
