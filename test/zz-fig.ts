import { measureMatrixRoundTrip } from './bench/matrix-rtt.js';
import { measureRss } from './bench/process.js';
console.log('rss-on', JSON.stringify(await measureRss(1000)));
console.log('rss-off', JSON.stringify(await measureRss(1000, { MATRIX_E2EE: 'false' })));
console.log('mx-rtt', JSON.stringify(await measureMatrixRoundTrip(80)));
process.exit(0);
