#!/usr/bin/env node
// Load from Node.js for the shutdown tests: CALLERS loops, each on its own connection,
// calling GetRoadmap with @grpc/grpc-js (the Node client's locked packages) and no retry
// policy, until stdin closes. It prints "started", then "answered" at the first OK, and
// at the end one JSON array of [sent_at_ms, status, details].
//
//   node tests/node_callers.js ADDR CALLERS FILE.json
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..');
const modules = path.join(REPO, 'clients', 'node', 'node_modules');
const grpc = require(path.join(modules, '@grpc', 'grpc-js'));
const protoLoader = require(path.join(modules, '@grpc', 'proto-loader'));

const [target, callers, file] = process.argv.slice(2);
const definition = protoLoader.loadSync(path.join('roadmap', 'v1', 'roadmap.proto'), {
  includeDirs: [path.join(REPO, 'proto')],
  keepCase: true,
  enums: String,
  defaults: true,
  oneofs: true,
});
const RoadmapService = grpc.loadPackageDefinition(definition).roadmap.v1.RoadmapService;
const assessment = JSON.parse(fs.readFileSync(file, 'utf8'));
const results = [];
let stopping = false;
let answered = false;

function call(client) {
  return new Promise((resolve) => {
    const sentAt = Date.now();
    const deadline = new Date(sentAt + 10_000);
    client.GetRoadmap({ assessment }, { deadline }, (error) => {
      results.push(error ? [sentAt, grpc.status[error.code], error.details] : [sentAt, 'OK', '']);
      if (!error && !answered) {
        answered = true;
        process.stdout.write('answered\n');
      }
      resolve();
    });
  });
}

async function loop() {
  // A connection of its own, and gRPC's defaults otherwise (no service config).
  const client = new RoadmapService(target, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  while (!stopping) {
    await call(client);
    await new Promise(setImmediate); // a refused call fails at once: let stdin be read
  }
  client.close();
}

const loops = Array.from({ length: Number(callers) }, loop);
process.stdout.write('started\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  stopping = true;
  await Promise.all(loops);
  process.stdout.write(`${JSON.stringify(results)}\n`);
});
