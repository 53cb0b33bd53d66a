/**
 * `npm run new:resource -- <plural-name> [field:kind …] [--singular <name>] [--no-sql]` writes a
 * working owned resource (docs/extending.md): its feature folder, its migration, and its two
 * registrations (`src/resources.ts`, `migrations/index.ts`); then `npm run sql:update` writes
 * `docs/sql/<name>.sql`. Everything else (the entity list, the module, the OpenAPI tag, the
 * not-found code, the shared test suite's case) follows from the registry.
 *
 * Fields, in the order given (default: `name:name`):
 *   <column>:name     required text, trimmed, not blank, at most 255 characters; sortable.
 *                     Exactly one field is of this kind.
 *   <column>:text     optional long text (at most 10,000 characters), null clears it.
 *   <column>:boolean  optional, false by default.
 *   <column>:enum=a|b|c  one of the values, the first by default.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as prettier from 'prettier';

const ROOT = resolve(__dirname, '..');
const NAME_MAX_LENGTH = 255;
const TEXT_MAX_LENGTH = 10_000;

type Kind = 'name' | 'text' | 'boolean' | 'enum';

interface Field {
  /** The column and wire name: `due_on`. */
  column: string;
  /** The entity's property: `dueOn`. */
  property: string;
  kind: Kind;
  values: string[];
}

interface Names {
  /** `notes`: the table, the path segment, the folder. */
  plural: string;
  /** `note`: the noun of messages. */
  singular: string;
  /** `Note`, `Notes`, `NOTES`. */
  Entity: string;
  Plural: string;
  CONSTANT: string;
  fields: Field[];
  timestamp: number;
}

function fail(message: string): never {
  process.stderr.write(`new:resource: ${message}\n`);
  process.exit(1);
}

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pascal = (snake: string) => camel(snake).replace(/^./, (c) => c.toUpperCase());

function singularOf(plural: string): string {
  if (plural.endsWith('ies')) return `${plural.slice(0, -3)}y`;
  if (/(s|x|z|ch|sh)es$/.test(plural)) return plural.slice(0, -2);
  if (plural.endsWith('s')) return plural.slice(0, -1);
  return fail(`say the singular of "${plural}" with --singular`);
}

function parseField(spec: string): Field {
  const match = /^([a-z][a-z0-9_]*):(name|text|boolean|enum)(?:=(.+))?$/.exec(spec);
  if (!match || !SNAKE.test(match[1])) {
    fail(`"${spec}" is not a field: <snake_case column>:name|text|boolean|enum=a|b`);
  }
  const [, column, kind, list] = match;
  const values = kind === 'enum' ? (list ?? '').split('|') : [];
  if (kind === 'enum' && (values.length < 2 || !values.every((value) => SNAKE.test(value)))) {
    fail(`"${spec}": an enum lists two or more snake_case values, as enum=low|high`);
  }
  if (kind !== 'enum' && list !== undefined) fail(`"${spec}": only an enum takes values`);
  return { column, property: camel(column), kind: kind as Kind, values };
}

const RESERVED = new Set(['id', 'user_id', 'version', 'created_at', 'updated_at', 'change_xid']);

function parseArguments(argv: string[]): Names & { sql: boolean } {
  const positional: string[] = [];
  let singular: string | undefined;
  let sql = true;
  for (let index = 0; index < argv.length; index += 1) {
    if (argv[index] === '--singular') singular = argv[(index += 1)];
    else if (argv[index] === '--no-sql') sql = false;
    else positional.push(argv[index]);
  }
  const [plural, ...specs] = positional;
  if (!plural || !SNAKE.test(plural)) {
    fail('usage: npm run new:resource -- <plural_name> [field:kind …] [--singular <name>]');
  }
  singular ??= singularOf(plural);
  if (!SNAKE.test(singular) || singular === plural) fail(`"${singular}" is not a singular`);
  const fields = (specs.length > 0 ? specs : ['name:name']).map(parseField);
  const columns = fields.map((field) => field.column);
  const clash = columns.find(
    (column, index) => RESERVED.has(column) || columns.indexOf(column) !== index,
  );
  if (clash) fail(`the column "${clash}" is taken`);
  if (fields.filter((field) => field.kind === 'name').length !== 1) {
    fail('exactly one field is of kind name (the required, sortable text)');
  }
  if (existsSync(resolve(ROOT, 'src', plural))) fail(`src/${plural} exists already`);
  return {
    plural,
    singular,
    Entity: pascal(singular),
    Plural: pascal(plural),
    CONSTANT: plural.toUpperCase(),
    fields,
    timestamp: Date.now(),
    sql,
  };
}

/** What each kind of field is, in the table, the entity and the two bodies. */
function columnSql({ column, kind, values }: Field): string {
  switch (kind) {
    case 'name':
      return `${column} varchar(${NAME_MAX_LENGTH}) NOT NULL`;
    case 'text':
      return `${column} text NULL`;
    case 'boolean':
      return `${column} boolean NOT NULL DEFAULT false`;
    case 'enum':
      return `${column} varchar(${Math.max(...values.map((value) => value.length))}) NOT NULL DEFAULT '${values[0]}'`;
  }
}

/** The check of a field, by name and SQL (as PostgreSQL prints it back, for the entity). */
function checkOf(table: string, { column, kind, values }: Field): [string, string, string] | null {
  switch (kind) {
    case 'name':
      return [
        `ck_${table}_${column}_not_blank`,
        `btrim(${column}) <> ''`,
        `btrim((${column})::text) <> ''::text`,
      ];
    case 'text':
      return [
        `ck_${table}_${column}_length`,
        `char_length(${column}) <= ${TEXT_MAX_LENGTH}`,
        `char_length(${column}) <= ${TEXT_MAX_LENGTH}`,
      ];
    case 'enum':
      return [
        `ck_${table}_${column}_valid`,
        `${column} IN (${values.map((value) => `'${value}'`).join(', ')})`,
        `(${column})::text = ANY ((ARRAY[${values.map((value) => `'${value}'::character varying`).join(', ')}])::text[])`,
      ];
    case 'boolean':
      return null;
  }
}

function entityColumn({ column, property, kind, values }: Field): string {
  const name = column === property ? '' : `name: '${column}', `;
  switch (kind) {
    case 'name':
      return `@Column({ ${name}type: 'varchar', length: ${NAME_MAX_LENGTH} })\n  ${property}!: string;`;
    case 'text':
      return `@Column({ ${name}type: 'text', nullable: true })\n  ${property}!: string | null;`;
    case 'boolean':
      return `@Column({ ${name}type: 'boolean', default: false })\n  ${property}!: boolean;`;
    case 'enum':
      return `@Column({ ${name}type: 'varchar', length: ${Math.max(...values.map((value) => value.length))}, default: '${values[0]}' })\n  ${property}!: ${values.map((value) => `'${value}'`).join(' | ')};`;
  }
}

function bodyField(field: Field, names: Names, create: boolean): string {
  const { column, kind, values } = field;
  switch (kind) {
    case 'name':
      return `@NameField({ name: '${column}', required: ${create}, maxLength: ${NAME_MAX_LENGTH}, example: 'My first ${names.singular}' })\n  ${column}${create ? '!' : '?'}: string;`;
    case 'text':
      return `@OptionalTextField({ maxLength: ${TEXT_MAX_LENGTH}, example: 'Some longer text' })\n  ${column}?: string | null;`;
    case 'boolean':
      return `@BooleanField({ description: '${create ? 'Defaults to false.' : 'May not be null.'}' })\n  ${column}?: boolean;`;
    case 'enum':
      return `@EnumField({ name: '${column}', values: [${values.map((value) => `'${value}'`).join(', ')}], description: '${create ? `Defaults to ${values[0]}.` : 'May not be null.'}' })\n  ${column}?: ${values.map((value) => `'${value}'`).join(' | ')};`;
  }
}

function inputType({ property, kind, values }: Field): string {
  switch (kind) {
    case 'name':
      return `${property}: string;`;
    case 'text':
      return `${property}?: string | null;`;
    case 'boolean':
      return `${property}?: boolean;`;
    case 'enum':
      return `${property}?: ${values.map((value) => `'${value}'`).join(' | ')};`;
  }
}

function migration(names: Names): string {
  const { plural: table, fields, timestamp, Plural } = names;
  const label = fields.find((field) => field.kind === 'name') as Field;
  const checks = fields.map((field) => checkOf(table, field)).filter((check) => check !== null);
  return `import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The \`${table}\` table, an owned resource (docs/extending.md): its owner, version and timestamps,
 * an index per sort order, and the changes feed's column, index and triggers (docs/sync.md).
 * \`(user_id, id)\` is unique so that another table can reference a ${names.singular} with its owner.
 */
export class Create${Plural}${timestamp} implements MigrationInterface {
  name = 'Create${Plural}${timestamp}';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(\`
      CREATE TABLE ${table} (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        user_id varchar(255) NOT NULL,
${fields.map((field) => `        ${columnSql(field)},`).join('\n')}
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        change_xid bigint NOT NULL DEFAULT 0,
        CONSTRAINT pk_${table} PRIMARY KEY (id),
        CONSTRAINT uq_${table}_user_id_id UNIQUE (user_id, id),
        CONSTRAINT ck_${table}_user_id_not_blank CHECK (btrim(user_id) <> ''),
${checks.map(([name, sql]) => `        CONSTRAINT ${name} CHECK (${sql}),`).join('\n')}
        CONSTRAINT ck_${table}_version_positive CHECK (version >= 1)
      )\`);
    await queryRunner.query(
      \`CREATE INDEX ix_${table}_user_id ON ${table} (user_id, created_at DESC, id DESC)\`,
    );
    await queryRunner.query(
      \`CREATE INDEX ix_${table}_user_id_${label.column} ON ${table} (user_id, ${label.column}, id)\`,
    );
    await queryRunner.query(
      \`CREATE INDEX ix_${table}_user_id_change_xid ON ${table} (user_id, change_xid, id)\`,
    );
    await queryRunner.query(\`
      CREATE FUNCTION set_${table}_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.updated_at := now();
        RETURN NEW;
      END
      $$\`);
    await queryRunner.query(\`
      CREATE TRIGGER update_${table}_updated_at
        BEFORE UPDATE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION set_${table}_updated_at()\`);
    await queryRunner.query(\`
      CREATE TRIGGER stamp_${table}_change_xid
        BEFORE INSERT OR UPDATE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION stamp_change_xid()\`);
    await queryRunner.query(\`
      CREATE TRIGGER record_${table}_tombstone
        AFTER DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION record_tombstone()\`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(\`DROP TABLE ${table}\`);
    await queryRunner.query(\`DROP FUNCTION set_${table}_updated_at()\`);
    await queryRunner.query(\`DELETE FROM tombstones WHERE resource = '${table}'\`);
    await queryRunner.query(\`DELETE FROM sync_horizons WHERE resource = '${table}'\`);
  }
}
`;
}

function entity(names: Names): string {
  const { plural: table, fields, Entity } = names;
  const label = fields.find((field) => field.kind === 'name') as Field;
  const checks = fields.map((field) => checkOf(table, field)).filter((check) => check !== null);
  return `import { Check, Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import type { IsoTimestamp } from '../database/iso-timestamp';

/**
 * The \`${table}\` table. The schema is owned by the migrations in \`migrations/\`; indexes and checks
 * are declared here only so that \`migration:generate\` sees the schema as it is.
 */
@Entity({ name: '${table}' })
@Unique('uq_${table}_user_id_id', ['userId', 'id'])
@Index('ix_${table}_user_id', { synchronize: false })
@Index('ix_${table}_user_id_${label.column}', { synchronize: false })
@Index('ix_${table}_user_id_change_xid', { synchronize: false })
@Check('ck_${table}_user_id_not_blank', \`btrim((user_id)::text) <> ''::text\`)
${checks.map(([name, , printed]) => `@Check('${name}', \`${printed}\`)`).join('\n')}
@Check('ck_${table}_version_positive', \`version >= 1\`)
export class ${Entity} {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

${fields.map((field) => `  ${entityColumn(field)}`).join('\n\n')}

  @Column({ type: 'integer', default: 1 })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt!: IsoTimestamp;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt!: IsoTimestamp;

  /** The transaction that last wrote the row, stamped by a trigger: the changes feed's order. */
  @Column({ name: 'change_xid', type: 'bigint', default: 0, select: false })
  changeXid?: string;
}
`;
}

function resource(names: Names): string {
  const { plural: table, singular, fields, Entity, CONSTANT } = names;
  const label = fields.find((field) => field.kind === 'name') as Field;
  const checks = fields.map((field) => [checkOf(table, field), field] as const);
  return `import { bothWays, ownedResource } from '../owned-resources/owned-resource';
import { ${Entity} } from './${singular}.entity';

/** ${pascal(table)} as an owned resource: what the shared machinery needs to know. */
export const ${CONSTANT} = ownedResource({
  table: '${table}',
  entity: ${Entity},
  noun: '${singular.replace(/_/g, ' ')}',
  notFoundCode: '${singular.toUpperCase()}_NOT_FOUND',
  sorts: {
    ...bothWays('created_at', { property: 'createdAt', type: 'timestamp' }),
    ...bothWays('${label.column}', { property: '${label.property}', type: 'text', maxLength: ${NAME_MAX_LENGTH} }),
  },
  filters: [],
  insertable: [${fields.map((f) => `'${f.property}'`).join(', ')}],
  updatable: [${fields.map((f) => `'${f.property}'`).join(', ')}],
  idempotentCreates: true,
  changesFeed: { trash: false },
  constraints: {
${checks
  .filter(([check]) => check !== null)
  .map(([check, f]) => `    ${(check as string[])[0]}: { field: '${f.column}' },`)
  .join('\n')}
    ck_${table}_user_id_not_blank: { field: 'user_id' },
  },
});

export type ${Entity}Sort = keyof typeof ${CONSTANT}.sorts;

export interface ${Entity}Input {
${fields.map((f) => `  ${inputType(f)}`).join('\n')}
}
`;
}

function repository(names: Names): string {
  const { singular, Entity, Plural, CONSTANT } = names;
  return `import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { defineOwnedStatements } from '../owned-resources/owned-statements';
import { OwnedRepository, TypeOrmOwnedRepository } from '../owned-resources/owned.repository';
import { ${Entity} } from './${singular}.entity';
import { type ${Entity}Input, type ${Entity}Sort, ${CONSTANT} } from './${names.plural}.resource';

const STATEMENTS = defineOwnedStatements(${CONSTANT});

/** Data access for ${names.plural}; the abstract class is the DI token. */
export abstract class ${Plural}Repository extends OwnedRepository<
  ${Entity},
  ${Entity}Sort,
  ${Entity}Input,
  Partial<${Entity}Input>
> {}

@Injectable()
export class TypeOrm${Plural}Repository
  extends TypeOrmOwnedRepository<${Entity}, ${Entity}Sort, ${Entity}Input, Partial<${Entity}Input>>
  implements ${Plural}Repository
{
  constructor(@InjectRepository(${Entity}) ${camel(names.plural)}: Repository<${Entity}>) {
    super(${CONSTANT}, STATEMENTS, ${camel(names.plural)});
  }
}
`;
}

function controller(names: Names): string {
  const { plural, singular, Entity, Plural, CONSTANT } = names;
  const dto = singular.replace(/_/g, '-');
  return `import { ownedCrudController } from '../owned-resources/owned-crud.controller';
import { Create${Entity}Dto } from './dto/create-${dto}.dto';
import { Update${Entity}Dto } from './dto/update-${dto}.dto';
import { ${Plural}Repository } from './${plural}.repository';
import { ${CONSTANT} } from './${plural}.resource';

/** The ${plural.replace(/_/g, ' ')} REST API: the routes every owned resource has. */
export class ${Plural}Controller extends ownedCrudController({
  resource: ${CONSTANT},
  repository: ${Plural}Repository,
  createBody: Create${Entity}Dto,
  updateBody: Update${Entity}Dto,
}) {}
`;
}

function module(names: Names): string {
  const { plural, singular, Entity, Plural, CONSTANT } = names;
  return `import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ${Entity} } from './${singular}.entity';
import { ${Plural}Controller } from './${plural}.controller';
import { ${Plural}Repository, TypeOrm${Plural}Repository } from './${plural}.repository';
import { ${CONSTANT} } from './${plural}.resource';

@Module({
  imports: [TypeOrmModule.forFeature([${Entity}])],
  controllers: [${Plural}Controller],
  providers: [{ provide: ${Plural}Repository, useClass: TypeOrm${Plural}Repository }],
  exports: [${Plural}Repository],
})
export class ${Plural}Module {
  /** What the registry of resources (src/resources.ts) reads. */
  static readonly resource = ${CONSTANT};
}
`;
}

function body(names: Names, create: boolean): string {
  const { plural, fields, Entity } = names;
  const uses = (kind: Kind) => fields.some((field) => field.kind === kind);
  const textFields = [uses('name') && 'NameField', uses('text') && 'OptionalTextField'].filter(
    Boolean,
  );
  const otherFields = [uses('boolean') && 'BooleanField', uses('enum') && 'EnumField'].filter(
    Boolean,
  );
  const imports = [
    otherFields.length > 0 &&
      `import { ${otherFields.join(', ')} } from '../../owned-resources/fields';`,
    `import { ${textFields.join(', ')} } from '../../owned-resources/text-fields';`,
  ].filter(Boolean);
  const route = create ? `POST /api/:userId/${plural}` : `PUT /api/:userId/${plural}/:id`;
  const what = create ? '' : ': a partial update, absent fields keep their value';
  return `${imports.join('\n')}

/** Body of \`${route}\`${what}. */
export class ${create ? 'Create' : 'Update'}${Entity}Dto {
${fields.map((field) => `  ${bodyField(field, names, create)}`).join('\n\n')}
}
`;
}

/** Adds an import and an entry to the array of a registry file, and returns its text. */
function register(file: string, importLine: string, arrayName: string, entry: string): void {
  const path = resolve(ROOT, file);
  const text = readFileSync(path, 'utf8');
  const array = new RegExp(`(export const ${arrayName} = \\[)([^\\]]*?)(,?\\s*\\];)`);
  if (!array.test(text)) fail(`${file}: no "export const ${arrayName} = [ … ];" to add to`);
  const lastImport = [...text.matchAll(/^import [^;]+;$/gms)].at(-1);
  const at = lastImport ? (lastImport.index ?? 0) + lastImport[0].length : 0;
  const withImport = `${text.slice(0, at)}\n${importLine}${text.slice(at)}`;
  writeFileSync(
    path,
    withImport.replace(array, (_, open: string, items: string) => `${open}${items}, ${entry}];`),
  );
}

async function write(file: string, text: string): Promise<void> {
  const path = resolve(ROOT, file);
  mkdirSync(dirname(path), { recursive: true });
  const options = await prettier.resolveConfig(path);
  writeFileSync(path, await prettier.format(text, { ...options, filepath: path }));
}

async function formatInPlace(file: string): Promise<void> {
  await write(file, readFileSync(resolve(ROOT, file), 'utf8'));
}

async function main(): Promise<void> {
  const { sql, ...names } = parseArguments(process.argv.slice(2));
  const { plural, singular, Plural, timestamp } = names;
  const dto = singular.replace(/_/g, '-');
  const written: [string, string][] = [
    [`migrations/${timestamp}-create-${plural.replace(/_/g, '-')}.ts`, migration(names)],
    [`src/${plural}/${singular}.entity.ts`, entity(names)],
    [`src/${plural}/${plural}.resource.ts`, resource(names)],
    [`src/${plural}/${plural}.repository.ts`, repository(names)],
    [`src/${plural}/${plural}.controller.ts`, controller(names)],
    [`src/${plural}/${plural}.module.ts`, module(names)],
    [`src/${plural}/dto/create-${dto}.dto.ts`, body(names, true)],
    [`src/${plural}/dto/update-${dto}.dto.ts`, body(names, false)],
  ];
  for (const [file, text] of written) await write(file, text);

  register(
    'migrations/index.ts',
    `import { Create${Plural}${timestamp} } from './${written[0][0].slice('migrations/'.length, -3)}';`,
    'MIGRATIONS',
    `Create${Plural}${timestamp}`,
  );
  register(
    'src/resources.ts',
    `import { ${Plural}Module } from './${plural}/${plural}.module';`,
    'RESOURCE_MODULES',
    `${Plural}Module`,
  );
  for (const file of ['migrations/index.ts', 'src/resources.ts']) await formatInPlace(file);

  const report = [
    ...written.map(([file]) => `  wrote ${file}`),
    '  added to migrations/index.ts, src/resources.ts',
  ];
  if (sql) {
    execFileSync('npm', ['run', '-s', 'sql:update'], { cwd: ROOT, stdio: 'ignore' });
    report.push(`  wrote docs/sql/${plural}.sql (npm run sql:update)`);
  }
  process.stdout.write(
    `${report.join('\n')}\n/api/:userId/${plural} is served by the next start; ` +
      'see docs/extending.md for what to make its own.\n',
  );
}

void main();
