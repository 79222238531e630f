import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PostHogFlagsModuleOptions } from './posthog-flags-options.interface.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: POSTHOG_FLAGS_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PostHogFlagsModuleOptions>()
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createPostHogFlagsOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
