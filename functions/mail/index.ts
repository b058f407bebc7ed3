import { http } from '@google-cloud/functions-framework';
import { startFunction } from '../start-function.ts';
import { createMailHandler } from './handler.ts';

http('mail', startFunction('mail', createMailHandler));
