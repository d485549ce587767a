#!/usr/bin/env node
// The installed `datamover` command. It lives outside dist/ so that pnpm links it in a fresh
// checkout, where dist/ does not exist yet at install time (pnpm skips a bin whose file is missing).
import '../dist/bin.js';
