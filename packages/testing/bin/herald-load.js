#!/usr/bin/env node
// The herald-load command: the compiled src/load-cli.ts (a file that exists before a build, so
// installing the workspace links it without a warning).
import '../dist/load-cli.js';
