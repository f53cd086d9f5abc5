#!/usr/bin/env node
process.stderr.write('Usage: wg-dynamic-server [options] <interface>\n(not implemented yet)\n');
process.exit(2);
