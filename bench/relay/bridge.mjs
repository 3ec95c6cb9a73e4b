// The floor's "bridge": stdin → the relay primary's abstract Unix socket → stdout, bytes only.
// Run: node bridge.mjs <socket name>
import { connect } from "node:net";

const socket = connect(`\0${process.argv[2]}`);
process.stdin.pipe(socket);
socket.pipe(process.stdout);
socket.on("close", () => process.exit(0));
