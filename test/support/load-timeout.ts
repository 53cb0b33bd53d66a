import { loadSlack } from './machine-load';

// Jest's time-out per test is a guard against a hang, not a budget: on a shared machine at load
// 10, compiling and starting a child process alone can take longer than an idle machine's 30 s.
jest.setTimeout(loadSlack(30_000));
