import { loadSlack } from './machine-load';

// Every time-out a test file gives Jest is a guard against a hang, not a budget: on a shared
// machine at load 10, compiling and starting a child process alone can take longer than the
// 30 s an idle machine needs for a whole test. So the default and each time-out written in a
// test (`it(name, fn, 60_000)`, `beforeAll(fn, 60_000)`) are stretched by the machine's load,
// measured when the file starts.
jest.setTimeout(loadSlack(30_000));

type Registrar = (...args: unknown[]) => unknown;

/** `register` with its time-out argument (at `index`) stretched; `.only`, `.each`... kept. */
function stretched<T extends object>(register: T, index: number): T {
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    const timeout = args[index];
    if (typeof timeout === 'number') args[index] = loadSlack(timeout);
    return (register as Registrar).apply(this, args);
  };
  return Object.assign(wrapper, register);
}

globalThis.it = stretched(it, 2);
globalThis.test = stretched(test, 2);
globalThis.beforeAll = stretched(beforeAll, 1);
globalThis.afterAll = stretched(afterAll, 1);
globalThis.beforeEach = stretched(beforeEach, 1);
globalThis.afterEach = stretched(afterEach, 1);
