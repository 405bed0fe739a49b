// DEVELOPMENT TOOL ONLY: `node --import ./dev-preload.mjs --test x.test.mjs` makes the harness
// open the console through devserver.mjs (console/dist + emulated admin routes) instead of dtmd's
// own /admin/. The real suite (npm test) never loads this.
import { frontFor } from './devserver.mjs';

globalThis.__lynxConsoleDevFront = frontFor;
