import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'auth:public';

/**
 * Opens a route (or every route of a controller) to callers without a token. Every other route is
 * behind `BearerAuthGuard`, which is global: a new controller is private until it says otherwise.
 */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(IS_PUBLIC, true);
