const fs = require("fs");
const version = fs.readFileSync("version.txt", "utf8").trim();
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync("dist/index.html", `<!doctype html><p>hello from static-node ${version} (built)</p>\n`);
