// Anchor: Deno.serve with the plain hello handler.
import { fetchHandler, listening } from "./common.mjs";

Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }) => listening(port) }, fetchHandler);
