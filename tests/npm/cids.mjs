// Compute UnixFS root CIDs with independent JavaScript implementations, for
// tests/test_unixfs.py to compare the Python importer with.
//
// Usage: node cids.mjs JOBS.json  -> prints {"<id>": "<cid>", ...} as JSON on stdout.
//
// A job is {id, tool, kind, path, profile, hidden?, chunkSize?, maxLinks?, threshold?, fanoutBits?}:
//   tool    "importer" (ipfs-unixfs-importer, IPIP-499 profiles) or "ipfs-car" (@ipld/unixfs,
//           CIDv1, raw leaves, 1 MiB chunks, 1024 links; shards only above 1000 entries)
//   kind    "file" or "dir"
//   profile "unixfs-v0-2015" | "unixfs-v1-2025" | "kubo-raw-leaves" (importer only)
// Directories are walked here (sorted, hidden entries only with hidden: true, empty
// directories kept, symlinks refused) and handed to the importer as path entries
// wrapped in one directory, which is what `ipfs add -r` produces for the folder.
import fs from 'node:fs'
import path from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { BlackHoleBlockstore } from 'blockstore-core/black-hole'
import { createFileEncoderStream, createDirectoryEncoderStream } from 'ipfs-car'

function importerOptions (job) {
  const options = {}
  if (job.profile === 'unixfs-v0-2015' || job.profile === 'unixfs-v1-2025') {
    options.profile = job.profile
  } else if (job.profile === 'kubo-raw-leaves') {
    // `ipfs add --raw-leaves` with CIDv0: dag-pb nodes v0, raw leaves v1, kubo's defaults otherwise
    options.cidVersion = 0
    options.rawLeaves = true
    options.shardSplitStrategy = 'links-bytes'
    options.chunker = fixedSize({ chunkSize: 262144 })
    options.layout = balanced({ maxChildrenPerNode: 174 })
  } else {
    throw new Error(`unknown profile ${job.profile}`)
  }
  if (job.chunkSize != null) options.chunker = fixedSize({ chunkSize: job.chunkSize })
  if (job.maxLinks != null) options.layout = balanced({ maxChildrenPerNode: job.maxLinks })
  if (job.threshold != null) options.shardSplitThresholdBytes = job.threshold
  if (job.fanoutBits != null) options.shardFanoutBits = job.fanoutBits
  return options
}

// Sorted walk: [{rel, full, dir}] in depth-first order.
function walk (root, hidden, rel = '') {
  const out = []
  const names = fs.readdirSync(path.join(root, rel)).sort()
  for (const name of names) {
    if (!hidden && name.startsWith('.')) continue
    const r = rel === '' ? name : `${rel}/${name}`
    const full = path.join(root, r)
    const st = fs.lstatSync(full)
    if (st.isSymbolicLink()) throw new Error(`symlinks are not supported by this harness: ${full}`)
    if (st.isDirectory()) {
      out.push({ rel: r, full, dir: true })
      out.push(...walk(root, hidden, r))
    } else {
      out.push({ rel: r, full, dir: false })
    }
  }
  return out
}

async function withImporter (job) {
  const options = importerOptions(job)
  const blockstore = new BlackHoleBlockstore()
  let source
  if (job.kind === 'file') {
    source = [{ content: fs.createReadStream(job.path) }]
  } else {
    options.wrapWithDirectory = true
    source = walk(job.path, job.hidden === true).map(e =>
      e.dir ? { path: e.rel } : { path: e.rel, content: fs.createReadStream(e.full) })
  }
  let last
  for await (const entry of importer(source, blockstore, options)) {
    last = entry
  }
  if (last == null) throw new Error(`nothing imported for ${job.id}`)
  return last.cid.toString()
}

async function withIpfsCar (job) {
  let stream
  if (job.kind === 'file') {
    const blob = await fs.openAsBlob(job.path)
    stream = createFileEncoderStream(blob)
  } else {
    const files = []
    for (const e of walk(job.path, job.hidden === true)) {
      if (e.dir) continue // ipfs-car only takes files; empty directories are lost
      const blob = await fs.openAsBlob(e.full)
      files.push({ name: e.rel, stream: () => blob.stream() })
    }
    stream = createDirectoryEncoderStream(files)
  }
  let last
  const reader = stream.getReader()
  while (true) {
    const { done, value } = await reader.read()
    if (done) break
    last = value
  }
  if (last == null) throw new Error(`no blocks for ${job.id}`)
  return last.cid.toString() // the root is the last block written
}

const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const results = {}
for (const job of jobs) {
  results[job.id] = job.tool === 'ipfs-car' ? await withIpfsCar(job) : await withImporter(job)
}
process.stdout.write(JSON.stringify(results))
