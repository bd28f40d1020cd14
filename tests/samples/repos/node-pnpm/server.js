const http = require("http");
const ms = require("ms");
const { name } = require("./package.json");
const version = require("fs").readFileSync(__dirname + "/version.txt", "utf8").trim();
http.createServer((req, res) => {
  res.setHeader("Content-Type", "text/plain");
  res.end(`hello from ${name} ${version} (ms says ${ms(60000)}) on node ${process.versions.node.split(".")[0]}\n`);
}).listen(Number(process.env.PORT), "0.0.0.0", () => console.log(`listening on ${process.env.PORT}`));
