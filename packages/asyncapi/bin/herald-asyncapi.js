#!/usr/bin/env node
// The herald-asyncapi command: the compiled src/cli.ts (a file that exists before a build, so
// installing the workspace links it without a warning).
import '../dist/cli.js';
