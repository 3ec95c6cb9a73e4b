// The floor's "bridge": stdin → the relay primary's Unix socket → stdout, bytes only.
// Run: node bridge.mjs <socket path>
import { connect } from "node:net";

const socket = connect(process.argv[2]);
process.stdin.pipe(socket);
socket.pipe(process.stdout);
socket.on("close", () => process.exit(0));
