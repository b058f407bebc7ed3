import { http } from '@google-cloud/functions-framework';
import { startFunction } from '../start-function.ts';
import { createChatHandler } from './handler.ts';

http(
  'chat',
  startFunction('chat', (deps) => createChatHandler(deps)),
);
