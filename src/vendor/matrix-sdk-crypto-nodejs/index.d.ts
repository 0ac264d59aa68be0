/** Stand-in types: every class throws "end-to-end encryption is not available". */
export declare const E2EE_UNAVAILABLE: string;
export declare class OlmMachine { static initialize(...args: any[]): Promise<OlmMachine>; [k: string]: any }
export declare class UserId { constructor(id: string); [k: string]: any }
export declare class DeviceId { constructor(id: string); [k: string]: any }
export declare class RoomId { constructor(id: string); [k: string]: any }
export declare class DeviceLists { constructor(...args: any[]); [k: string]: any }
export declare class EncryptionSettings { [k: string]: any }
export declare class Attachment { static encrypt(...args: any[]): any; static decrypt(...args: any[]): any }
export declare class EncryptedAttachment { constructor(...args: any[]); [k: string]: any }
export declare const StoreType: { readonly Sled: 0; readonly Sqlite: 1 };
