#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// The client sleeps between renewals and never runs anything hot: V8's
// optimizing compiler only costs it memory and processor time, most of it
// while the modules load (bench/client.ts: about 9 MiB of resident memory).
// Set before the program's modules load, hence the dynamic import.
setFlagsFromString('--no-opt');
await import('../cli/main.js');
