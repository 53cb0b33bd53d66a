import { readFileSync } from 'node:fs';

/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): where the samples were taken (self time), by
 * function and by package, and how often each package was anywhere on the stack (total time).
 * Usage on its own: `ts-node bench/profile-summary.ts <file.cpuprofile>`.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time the thread was not idle. */
  busyMs: number;
  topFunctions: ProfileEntry[];
  selfByPackage: ProfileEntry[];
  /** Self time charged to the nearest package on the stack: Node's own work (sockets, streams,
   * crypto, native calls) counts for the package that asked for it. */
  attributedByPackage: ProfileEntry[];
  totalByPackage: ProfileEntry[];
  /** Time in the system calls that send on sockets (`writev`, `write*`), by what was sent. */
  socketWrites: ProfileEntry[];
}

const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String']);

/** What a socket write sends, from the frames above it: a query, a response, or other. */
function socketWriteKind(frames: ProfileNode['callFrame'][]): string {
  for (const frame of frames) {
    if (/\/node_modules\/pg\/lib\//.test(frame.url)) return 'queries to PostgreSQL (pg)';
    if (frame.url === 'node:_http_outgoing' || frame.url.endsWith('/_http_outgoing.js')) {
      return 'HTTP responses';
    }
  }
  return 'other sockets';
}

const VIRTUAL_FRAMES = new Set(['(program)', '(garbage collector)', '(idle)', '(root)']);

/** The package a frame belongs to: node_modules/<pkg>, node:<module>, the app, or V8 itself. */
export function packageOf(frame: ProfileNode['callFrame']): string {
  if (VIRTUAL_FRAMES.has(frame.functionName)) return frame.functionName;
  const url = frame.url;
  if (!url) return '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const app = /\/dist\/(src|migrations)\/(.*)$/.exec(url);
  if (app) return `app: ${app[1]}/${app[2].split('/')[0]}`;
  const floor = /\/bench\/\.work\/js\/(.*)$/.exec(url);
  if (floor) return `floor: bench/${floor[1].replace(/\.js$/, '.ts')}`;
  return url.replace(/^file:\/\//, '');
}

/** Node's own code and native calls: charged to whichever package called them. */
const isRuntime = (pkg: string): boolean => pkg.startsWith('node:') || pkg === '(native)';

const describeFrame = (frame: ProfileNode['callFrame']): string => {
  if (VIRTUAL_FRAMES.has(frame.functionName)) return frame.functionName;
  const name = frame.functionName || '(anonymous)';
  const pkg = packageOf(frame);
  const file = frame.url.split('/').pop() ?? '';
  return `${name} (${pkg}${file && !pkg.endsWith(file) ? ` ${file}` : ''}:${frame.lineNumber + 1})`;
};

/** Milliseconds since the profile started: only samples inside this window count. */
export interface ProfileWindow {
  fromMs: number;
  toMs: number;
}

export function summariseProfile(path: string, top = 15, window?: ProfileWindow): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfByNode = new Map<number, number>();
  // V8 attributes the time until the next sample to the current one.
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] / 1000;
    if (window && (at < window.fromMs || at > window.toMs)) continue;
    const delta = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    selfByNode.set(profile.samples[i], (selfByNode.get(profile.samples[i]) ?? 0) + delta);
  }

  const functions = new Map<string, number>();
  const selfPackages = new Map<string, number>();
  const totalPackages = new Map<string, number>();
  const attributedPackages = new Map<string, number>();
  const socketWrites = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const [id, ms] of selfByNode) {
    const node = byId.get(id);
    if (!node) continue;
    totalMs += ms;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const name = describeFrame(node.callFrame);
    functions.set(name, (functions.get(name) ?? 0) + ms);
    const pkg = packageOf(node.callFrame);
    selfPackages.set(pkg, (selfPackages.get(pkg) ?? 0) + ms);
    const onStack = new Set<string>();
    const stack: ProfileNode['callFrame'][] = [];
    let attributed: string | null = null;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      stack.push(frame);
      const framePackage = packageOf(frame);
      onStack.add(framePackage);
      if (attributed === null && !isRuntime(framePackage)) attributed = framePackage;
    }
    attributed ??= 'node (no package on the stack)';
    if (SOCKET_WRITES.has(node.callFrame.functionName) && node.callFrame.url === '') {
      const kind = socketWriteKind(stack);
      socketWrites.set(kind, (socketWrites.get(kind) ?? 0) + ms);
    }
    attributedPackages.set(attributed, (attributedPackages.get(attributed) ?? 0) + ms);
    for (const stackPackage of onStack) {
      if (isRuntime(stackPackage)) continue;
      totalPackages.set(stackPackage, (totalPackages.get(stackPackage) ?? 0) + ms);
    }
  }
  const busyMs = totalMs - idleMs;
  const rank = (values: Map<string, number>, count: number): ProfileEntry[] =>
    [...values.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, ms]) => ({ name, ms, share: ms / busyMs }));
  return {
    totalMs,
    busyMs,
    topFunctions: rank(functions, top),
    selfByPackage: rank(selfPackages, top),
    attributedByPackage: rank(attributedPackages, top),
    totalByPackage: rank(totalPackages, top),
    socketWrites: rank(socketWrites, top),
  };
}

export function formatProfile(summary: ProfileSummary, tables = 'all' as 'all' | 'short'): string {
  const table = (title: string, entries: ProfileEntry[]): string =>
    [
      `| ${title} | ms | share of busy time |`,
      '|---|---:|---:|',
      ...entries.map(
        (entry) =>
          `| ${entry.name.replace(/\|/g, '\\|')} | ${entry.ms.toFixed(0)} | ${(entry.share * 100).toFixed(1)} % |`,
      ),
    ].join('\n');
  const sampled =
    `Sampled ${(summary.totalMs / 1000).toFixed(1)} s, of which ${(summary.busyMs / 1000).toFixed(1)} s busy ` +
    `(${((summary.busyMs / summary.totalMs) * 100).toFixed(0)} %).`;
  if (tables === 'short') {
    return [
      sampled,
      '',
      table('system calls sending on sockets, by what they sent', summary.socketWrites),
      '',
      table('charged to the nearest package', summary.attributedByPackage),
    ].join('\n');
  }
  return [
    sampled,
    '',
    table('system calls sending on sockets, by what they sent', summary.socketWrites),
    '',
    table('self time, charged to the nearest package on the stack', summary.attributedByPackage),
    '',
    table('self time, by function', summary.topFunctions),
    '',
    table('self time, by package', summary.selfByPackage),
    '',
    table(
      'total time: the package anywhere on the stack (Node itself left out)',
      summary.totalByPackage,
    ),
  ].join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: profile-summary <file.cpuprofile>\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfile(summariseProfile(file))}\n`);
}
