import { RESOURCE_MODULES } from './resources';

/**
 * Every TypeORM entity of the service: the one list the application, the migration CLI
 * (`ormconfig.ts`) and the tests register, read from the resources' registry.
 */
export const ENTITIES = RESOURCE_MODULES.map((module) => module.resource.entity);
