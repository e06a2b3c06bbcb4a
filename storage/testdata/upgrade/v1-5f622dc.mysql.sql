SET FOREIGN_KEY_CHECKS = 0;
/*M!999999\- enable the sandbox mode */ 
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `accounts` (
  `id` varchar(36) NOT NULL,
  `email` varchar(320) DEFAULT NULL,
  `email_verified` tinyint(1) NOT NULL,
  `password_hash` varchar(255) NOT NULL,
  `name` varchar(200) NOT NULL,
  `created_at` datetime(3) NOT NULL,
  `updated_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_accounts_email` (`email`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `accounts` VALUES ('d9949e69-5de4-434e-bbb6-fa67bc38c8a0','alice@example.com',1,'$argon2id$v=19$m=19456,t=2,p=1$oYIDRrC+KOAMKIqBFFD8Jg$RGtrg2NDeXP6cBNHAy7KK2xItXRZfKtt8lJD025C/Lg','Alice Liddell','2026-12-05 21:16:54.095','2026-12-05 21:16:54.095');
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `consents` (
  `account_id` varchar(36) NOT NULL,
  `client_id` varchar(64) NOT NULL,
  `scopes` text DEFAULT NULL,
  `granted_at` datetime(3) NOT NULL,
  PRIMARY KEY (`account_id`,`client_id`),
  KEY `fk_consents_tenant` (`client_id`),
  CONSTRAINT `fk_consents_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE,
  CONSTRAINT `fk_consents_tenant` FOREIGN KEY (`client_id`) REFERENCES `tenants` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `login_sessions` (
  `id` varchar(64) NOT NULL,
  `sid` varchar(64) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `auth_time` datetime(3) NOT NULL,
  `amr` varchar(100) NOT NULL,
  `acr` varchar(100) NOT NULL,
  `remember` tinyint(1) NOT NULL,
  `created_at` datetime(3) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  `last_seen_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_login_sessions_s_id` (`sid`),
  KEY `idx_login_sessions_account_id` (`account_id`),
  KEY `idx_login_sessions_expires_at` (`expires_at`),
  CONSTRAINT `fk_login_sessions_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `oauth2_access_tokens` (
  `id` varchar(64) NOT NULL,
  `request_id` varchar(64) NOT NULL,
  `requested_at` datetime(3) NOT NULL,
  `client_id` varchar(64) NOT NULL,
  `subject` varchar(255) NOT NULL,
  `scopes` text DEFAULT NULL,
  `granted_scopes` text DEFAULT NULL,
  `requested_audience` text DEFAULT NULL,
  `granted_audience` text DEFAULT NULL,
  `form` text DEFAULT NULL,
  `session` longblob DEFAULT NULL,
  `active` tinyint(1) NOT NULL,
  `access_id` varchar(64) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_oauth2_access_tokens_request_id` (`request_id`),
  KEY `idx_oauth2_access_tokens_client_id` (`client_id`),
  KEY `idx_oauth2_access_tokens_subject` (`subject`),
  KEY `idx_oauth2_access_tokens_expires_at` (`expires_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `oauth2_authorize_codes` (
  `id` varchar(64) NOT NULL,
  `request_id` varchar(64) NOT NULL,
  `requested_at` datetime(3) NOT NULL,
  `client_id` varchar(64) NOT NULL,
  `subject` varchar(255) NOT NULL,
  `scopes` text DEFAULT NULL,
  `granted_scopes` text DEFAULT NULL,
  `requested_audience` text DEFAULT NULL,
  `granted_audience` text DEFAULT NULL,
  `form` text DEFAULT NULL,
  `session` longblob DEFAULT NULL,
  `active` tinyint(1) NOT NULL,
  `access_id` varchar(64) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_oauth2_authorize_codes_request_id` (`request_id`),
  KEY `idx_oauth2_authorize_codes_client_id` (`client_id`),
  KEY `idx_oauth2_authorize_codes_subject` (`subject`),
  KEY `idx_oauth2_authorize_codes_expires_at` (`expires_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `oauth2_oidc_sessions` (
  `id` varchar(64) NOT NULL,
  `request_id` varchar(64) NOT NULL,
  `requested_at` datetime(3) NOT NULL,
  `client_id` varchar(64) NOT NULL,
  `subject` varchar(255) NOT NULL,
  `scopes` text DEFAULT NULL,
  `granted_scopes` text DEFAULT NULL,
  `requested_audience` text DEFAULT NULL,
  `granted_audience` text DEFAULT NULL,
  `form` text DEFAULT NULL,
  `session` longblob DEFAULT NULL,
  `active` tinyint(1) NOT NULL,
  `access_id` varchar(64) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_oauth2_oidc_sessions_request_id` (`request_id`),
  KEY `idx_oauth2_oidc_sessions_client_id` (`client_id`),
  KEY `idx_oauth2_oidc_sessions_subject` (`subject`),
  KEY `idx_oauth2_oidc_sessions_expires_at` (`expires_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `oauth2_pkce_requests` (
  `id` varchar(64) NOT NULL,
  `request_id` varchar(64) NOT NULL,
  `requested_at` datetime(3) NOT NULL,
  `client_id` varchar(64) NOT NULL,
  `subject` varchar(255) NOT NULL,
  `scopes` text DEFAULT NULL,
  `granted_scopes` text DEFAULT NULL,
  `requested_audience` text DEFAULT NULL,
  `granted_audience` text DEFAULT NULL,
  `form` text DEFAULT NULL,
  `session` longblob DEFAULT NULL,
  `active` tinyint(1) NOT NULL,
  `access_id` varchar(64) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_oauth2_pkce_requests_request_id` (`request_id`),
  KEY `idx_oauth2_pkce_requests_client_id` (`client_id`),
  KEY `idx_oauth2_pkce_requests_subject` (`subject`),
  KEY `idx_oauth2_pkce_requests_expires_at` (`expires_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `oauth2_refresh_tokens` (
  `id` varchar(64) NOT NULL,
  `request_id` varchar(64) NOT NULL,
  `requested_at` datetime(3) NOT NULL,
  `client_id` varchar(64) NOT NULL,
  `subject` varchar(255) NOT NULL,
  `scopes` text DEFAULT NULL,
  `granted_scopes` text DEFAULT NULL,
  `requested_audience` text DEFAULT NULL,
  `granted_audience` text DEFAULT NULL,
  `form` text DEFAULT NULL,
  `session` longblob DEFAULT NULL,
  `active` tinyint(1) NOT NULL,
  `access_id` varchar(64) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_oauth2_refresh_tokens_request_id` (`request_id`),
  KEY `idx_oauth2_refresh_tokens_client_id` (`client_id`),
  KEY `idx_oauth2_refresh_tokens_subject` (`subject`),
  KEY `idx_oauth2_refresh_tokens_expires_at` (`expires_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `schema_migrations` (
  `version` bigint(20) NOT NULL,
  `name` varchar(200) NOT NULL,
  `applied_at` datetime(3) NOT NULL,
  PRIMARY KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `schema_migrations` VALUES (1,'initial schema','2026-12-05 21:16:53.797');
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `signing_keys` (
  `kid` varchar(64) NOT NULL,
  `alg` varchar(16) NOT NULL,
  `private_key` longblob NOT NULL,
  `created_at` datetime(3) NOT NULL,
  `retired_at` datetime(3) DEFAULT NULL,
  `publish_until` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`kid`),
  KEY `idx_signing_keys_created_at` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `tenants` (
  `id` varchar(64) NOT NULL,
  `name` varchar(200) NOT NULL,
  `secret_hash` varbinary(255) DEFAULT NULL,
  `redirect_uris` text DEFAULT NULL,
  `post_logout_redirect_uris` text DEFAULT NULL,
  `grant_types` text DEFAULT NULL,
  `response_types` text DEFAULT NULL,
  `scopes` text DEFAULT NULL,
  `public` tinyint(1) NOT NULL,
  `first_party` tinyint(1) NOT NULL,
  `access_token_format` varchar(16) NOT NULL,
  `customer_token` varchar(64) NOT NULL,
  `created_at` datetime(3) NOT NULL,
  `updated_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_tenants_customer_token` (`customer_token`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `tenants` VALUES ('f5573819891fe6c6c0fe94eeb5a00d28','Upgrade fixture',0x686D61632D736861323536244E4A665062514770362F75564870744B4B7042396D336950366E6B4363392B2F43596C307977506F4A754D,'[\"http://localhost:9999/cb\"]','[]','[\"authorization_code\",\"refresh_token\",\"client_credentials\"]','[\"code\"]','[\"openid\",\"profile\",\"email\",\"phone\",\"offline_access\"]',0,0,'opaque','e3a2bc20fea5ede8d159343b93a352d2','2026-12-05 21:16:53.862','2026-12-05 21:16:53.862');
SET FOREIGN_KEY_CHECKS = 1;
