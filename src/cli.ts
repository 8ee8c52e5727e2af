#!/usr/bin/env node
/**
 * The `portico` command: serves a directory over HTTP.
 *
 *   npx portico ./public [--port 8000] [--host 127.0.0.1] [--cors] [--no-dir-listing] [--cert f --key f]
 *   deno run --allow-net --allow-read jsr:@portico/portico/cli ./public
 *   bun node_modules/portico/src/cli.ts ./public
 *
 * @module
 */

import process from "node:process";
// The package entry: it binds the runtime this program runs on.
import "./mod.ts";
import { runFileServer } from "./cli/main.ts";

const result = await runFileServer(process.argv.slice(2));
if (typeof result === "number") process.exit(result);
