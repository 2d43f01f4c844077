// Starts the Cosmos DB API server on 127.0.0.1:<port> with keep-alive (its CLI closes every
// connection, which costs ~50 ms of TLS setup per call). Usage: node cosmos_server.js PORT
const { createHttpsServer } = require("@vercel/cosmosdb-server");
const port = parseInt(process.argv[2] || "8081", 10);
createHttpsServer({ keepAlive: true }).listen(port, "127.0.0.1", () => console.log(`cosmos listening ${port}`));
