#!/usr/bin/env node
// A Node.js client of roadmap.v1, loaded from the .proto files at run time.
//
//   node client.js get    ADDR FILE.json    GetRoadmap: prints the response as JSON
//   node client.js stream ADDR FILE.jsonl   StreamRoadmaps: one JSON line per answer
//
// Assessment files are the proto3 JSON form of roadmap.v1.Assessment (field names as
// in the .proto, enums by name). Exit codes: 0 ok, 1 invalid input, 2 usage, 3 unreachable.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');

function loadService() {
  const definition = protoLoader.loadSync(path.join('roadmap', 'v1', 'roadmap.proto'), {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).roadmap.v1.RoadmapService;
}

function exitFor(error) {
  if (error.code === grpc.status.INVALID_ARGUMENT) return 1;
  if (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED) return 3;
  return 1;
}

function fail(error) {
  process.stderr.write(`error: ${grpc.status[error.code] || error.code}: ${error.details || error.message}\n`);
  process.exit(exitFor(error));
}

function main(argv) {
  const [command, target, file] = argv;
  if (!['get', 'stream'].includes(command) || !target || !file) {
    process.stderr.write('usage: client.js get|stream ADDR FILE\n');
    process.exit(2);
  }
  const RoadmapService = loadService();
  const client = new RoadmapService(target, grpc.credentials.createInsecure());
  const deadline = () => new Date(Date.now() + 10_000);
  const text = fs.readFileSync(file, 'utf8');

  if (command === 'get') {
    client.GetRoadmap({ assessment: JSON.parse(text) }, { deadline: deadline() }, (error, response) => {
      if (error) fail(error);
      process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
      client.close();
    });
    return;
  }
  const call = client.StreamRoadmaps({ deadline: deadline() });
  call.on('data', (response) => process.stdout.write(`${JSON.stringify(response)}\n`));
  call.on('error', fail);
  call.on('end', () => client.close());
  for (const line of text.split('\n')) {
    if (line.trim()) call.write({ assessment: JSON.parse(line) });
  }
  call.end();
}

main(process.argv.slice(2));
