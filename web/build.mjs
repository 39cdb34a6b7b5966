// Copies the widget's client libraries from node_modules into the site's static folder,
// so the page serves every script itself (no CDN). Run after `npm ci`: `npm run build`.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendorDir = join(here, "..", "webapp", "site", "static", "vendor");

// [source under node_modules, name in vendor/]
const files = [
  ["socket.io-client/dist/socket.io.min.js", "socket.io.min.js"],
  ["socket.io-client/dist/socket.io.min.js.map", "socket.io.min.js.map"],
  ["socket.io-client/LICENSE", "socket.io-client.LICENSE"],
];

rmSync(vendorDir, { recursive: true, force: true });
mkdirSync(vendorDir, { recursive: true });
for (const [source, target] of files) {
  copyFileSync(join(here, "node_modules", source), join(vendorDir, target));
  console.log(`vendor/${target}`);
}
