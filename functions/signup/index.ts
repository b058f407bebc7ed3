import { http } from '@google-cloud/functions-framework';
import { startFunction } from '../start-function.ts';
import { createSignupHandler } from './handler.ts';

http('signup', startFunction('signup', createSignupHandler));
