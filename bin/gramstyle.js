#!/usr/bin/env node
// The CLI is written in TypeScript and compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
import { main } from '../dist/helper/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
