import { ApiTags } from '@nestjs/swagger';
import type { TagObject } from '@nestjs/swagger';

const DESCRIPTIONS = new Map<string, string>();

/**
 * `@ApiTags(name)` with the tag's description, which `ApiTags` drops: the document's `tags` are
 * the ones its controllers declare this way, so that no list of tags is kept by hand.
 */
export function DescribedTag(name: string, description: string): ClassDecorator & MethodDecorator {
  const known = DESCRIPTIONS.get(name);
  if (known !== undefined && known !== description) {
    throw new Error(`The OpenAPI tag "${name}" is described twice, differently`);
  }
  DESCRIPTIONS.set(name, description);
  return ApiTags(name);
}

/** Every tag described so far (by the controllers loaded), by name. */
export const describedTags = (): TagObject[] =>
  [...DESCRIPTIONS].map(([name, description]) => ({ name, description }));
