SET FOREIGN_KEY_CHECKS = 0;
/*M!999999\- enable the sandbox mode */ 
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `accounts` (
  `id` varchar(36) NOT NULL,
  `email` varchar(320) DEFAULT NULL,
  `email_verified` tinyint(1) NOT NULL,
  `mobile` varchar(16) DEFAULT NULL,
  `mobile_verified` tinyint(1) NOT NULL DEFAULT 0,
  `password_hash` varchar(255) NOT NULL,
  `name` varchar(200) NOT NULL,
  `created_at` datetime(3) NOT NULL,
  `updated_at` datetime(3) NOT NULL,
  `first_name` varchar(100) NOT NULL DEFAULT '',
  `last_name` varchar(100) NOT NULL DEFAULT '',
  `national_code` varchar(10) NOT NULL DEFAULT '',
  `birthday` date DEFAULT NULL,
  `birthday_calendar` varchar(16) NOT NULL DEFAULT '',
  `picture_url` varchar(2000) NOT NULL DEFAULT '',
  `address` varchar(500) NOT NULL DEFAULT '',
  `postal_code` varchar(12) NOT NULL DEFAULT '',
  `marital_status` varchar(16) NOT NULL DEFAULT '',
  `facebook_id` varchar(100) NOT NULL DEFAULT '',
  `instagram_id` varchar(100) NOT NULL DEFAULT '',
  `twitter_id` varchar(100) NOT NULL DEFAULT '',
  `linkedin_id` varchar(100) NOT NULL DEFAULT '',
  `document` varchar(200) NOT NULL DEFAULT '',
  `telephone` varchar(20) NOT NULL DEFAULT '',
  `failed_logins` bigint(20) NOT NULL DEFAULT 0,
  `failure_window_start` datetime(3) DEFAULT NULL,
  `locked_until` datetime(3) DEFAULT NULL,
  `lockouts` bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_accounts_email` (`email`),
  UNIQUE KEY `idx_accounts_mobile` (`mobile`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `accounts` VALUES ('fa0f81a4-9a83-4a2b-a524-6b2a07ad46f3','alice@example.com',1,NULL,0,'$argon2id$v=19$m=19456,t=2,p=1$1u/1eSv03EYJmRErHqgQaA$VrOqefmJJD2ofAgkrN/Kg3rxdiqC2CLeYof8a8K3ET0','Alice Liddell','2026-12-05 21:16:57.115','2026-12-05 21:16:57.115','','','',NULL,'','','','','','','','','','','',0,NULL,NULL,0);
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `confirmations` (
  `id` varchar(64) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `purpose` varchar(16) NOT NULL,
  `target` varchar(320) NOT NULL,
  `client_id` varchar(64) NOT NULL DEFAULT '',
  `created_at` datetime(3) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  `used_at` datetime(3) DEFAULT NULL,
  `code_hash` varchar(64) NOT NULL DEFAULT '',
  `attempts` bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  KEY `idx_confirmations_account_id` (`account_id`),
  KEY `idx_confirmations_created_at` (`created_at`),
  KEY `idx_confirmations_expires_at` (`expires_at`),
  CONSTRAINT `fk_confirmations_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `memberships` (
  `account_id` varchar(36) NOT NULL,
  `client_id` varchar(64) NOT NULL,
  `role` varchar(100) NOT NULL DEFAULT '',
  `custom_fields` text DEFAULT NULL,
  `joined_via` varchar(16) NOT NULL,
  `created_at` datetime(3) NOT NULL,
  PRIMARY KEY (`account_id`,`client_id`),
  KEY `idx_memberships_client_id` (`client_id`),
  CONSTRAINT `fk_memberships_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE,
  CONSTRAINT `fk_memberships_tenant` FOREIGN KEY (`client_id`) REFERENCES `tenants` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `mfa_factors` (
  `id` varchar(36) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `kind` varchar(8) NOT NULL,
  `secret` varchar(500) NOT NULL DEFAULT '',
  `phone` varchar(16) NOT NULL DEFAULT '',
  `last_step` bigint(20) NOT NULL DEFAULT 0,
  `confirmed` tinyint(1) NOT NULL DEFAULT 0,
  `created_at` datetime(3) DEFAULT NULL,
  `confirmed_at` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_factor_account_kind` (`account_id`,`kind`),
  CONSTRAINT `fk_mfa_factors_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `mfa_pending_logins` (
  `id` varchar(64) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `amr` varchar(100) NOT NULL,
  `remember` tinyint(1) NOT NULL,
  `client_id` varchar(64) NOT NULL DEFAULT '',
  `enrol` tinyint(1) NOT NULL DEFAULT 0,
  `attempts` bigint(20) NOT NULL DEFAULT 0,
  `created_at` datetime(3) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_mfa_pending_logins_account_id` (`account_id`),
  KEY `idx_mfa_pending_logins_expires_at` (`expires_at`),
  CONSTRAINT `fk_mfa_pending_logins_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `mfa_recovery_codes` (
  `id` varchar(64) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `created_at` datetime(3) DEFAULT NULL,
  `used_at` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_mfa_recovery_codes_account_id` (`account_id`),
  CONSTRAINT `fk_mfa_recovery_codes_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `mfa_trusted_devices` (
  `id` varchar(64) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `name` varchar(200) NOT NULL DEFAULT '',
  `created_at` datetime(3) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  `last_used_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_mfa_trusted_devices_account_id` (`account_id`),
  KEY `idx_mfa_trusted_devices_expires_at` (`expires_at`),
  CONSTRAINT `fk_mfa_trusted_devices_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `outbox` (
  `id` varchar(36) NOT NULL,
  `channel` varchar(8) NOT NULL,
  `recipient` varchar(320) NOT NULL,
  `subject` varchar(400) NOT NULL,
  `text` text NOT NULL,
  `html` text NOT NULL,
  `from` varchar(320) NOT NULL,
  `created_at` datetime(3) NOT NULL,
  `next_attempt_at` datetime(3) NOT NULL,
  `attempts` bigint(20) NOT NULL,
  `last_error` varchar(1000) NOT NULL,
  `sent_at` datetime(3) DEFAULT NULL,
  `gave_up_at` datetime(3) DEFAULT NULL,
  `claimed_by` varchar(64) NOT NULL,
  `claimed_until` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_outbox_next_attempt_at` (`next_attempt_at`),
  KEY `idx_outbox_sent_at` (`sent_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `schema_migrations` (
  `version` bigint(20) NOT NULL,
  `name` varchar(200) NOT NULL,
  `applied_at` datetime(3) NOT NULL,
  PRIMARY KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `schema_migrations` VALUES (1,'initial schema','2026-12-05 21:16:56.586');
INSERT INTO `schema_migrations` VALUES (2,'outbox for mail and SMS','2026-12-05 21:16:56.610');
INSERT INTO `schema_migrations` VALUES (3,'sign-in failures and lockout','2026-12-05 21:16:56.617');
INSERT INTO `schema_migrations` VALUES (4,'confirmations','2026-12-05 21:16:56.638');
INSERT INTO `schema_migrations` VALUES (5,'profile fields','2026-12-05 21:16:56.670');
INSERT INTO `schema_migrations` VALUES (6,'memberships','2026-12-05 21:16:56.704');
INSERT INTO `schema_migrations` VALUES (7,'mobile numbers','2026-12-05 21:16:56.715');
INSERT INTO `schema_migrations` VALUES (8,'one-time codes','2026-12-05 21:16:56.719');
INSERT INTO `schema_migrations` VALUES (9,'tenant settings','2026-12-05 21:16:56.725');
INSERT INTO `schema_migrations` VALUES (10,'second factors','2026-12-05 21:16:56.768');
INSERT INTO `schema_migrations` VALUES (11,'upstream links','2026-12-05 21:16:56.802');
INSERT INTO `schema_migrations` VALUES (12,'the tenant of a confirmation','2026-12-05 21:16:56.808');
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
  `confirm_url` varchar(2000) NOT NULL DEFAULT '',
  `mail_from` varchar(320) NOT NULL DEFAULT '',
  `allow_unconfirmed` tinyint(1) NOT NULL DEFAULT 0,
  `require_mfa` tinyint(1) NOT NULL DEFAULT 0,
  `mfa_confirm_email` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_tenants_customer_token` (`customer_token`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `tenants` VALUES ('c4d9f3fcfc84204f5d0c194538f822c0','Upgrade fixture',0x686D61632D73686132353624713731374C6B7536624342556E67504679664331586F6233447876354F6D533632623661504E6D6D314767,'[\"http://localhost:9999/cb\"]','[]','[\"authorization_code\",\"refresh_token\",\"client_credentials\"]','[\"code\"]','[\"openid\",\"profile\",\"email\",\"phone\",\"offline_access\"]',0,0,'opaque','f5bee5bced45bfe5ff38ceb3262578ab','2026-12-05 21:16:56.902','2026-12-05 21:16:56.902','','',0,0,0);
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `upstream_links` (
  `upstream` varchar(64) NOT NULL,
  `subject` varchar(255) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `email` varchar(320) NOT NULL DEFAULT '',
  `given_name` varchar(200) NOT NULL DEFAULT '',
  `family_name` varchar(200) NOT NULL DEFAULT '',
  `name` varchar(200) NOT NULL DEFAULT '',
  `picture` varchar(2000) NOT NULL DEFAULT '',
  `locale` varchar(35) NOT NULL DEFAULT '',
  `birthdate` varchar(10) NOT NULL DEFAULT '',
  `raw_claims` text DEFAULT NULL,
  `created_at` datetime(3) NOT NULL,
  `last_login_at` datetime(3) NOT NULL,
  PRIMARY KEY (`upstream`,`subject`),
  KEY `idx_upstream_links_account_id` (`account_id`),
  CONSTRAINT `fk_upstream_links_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `upstream_links_pending` (
  `id` varchar(64) NOT NULL,
  `account_id` varchar(36) NOT NULL,
  `identity` text DEFAULT NULL,
  `flow` text DEFAULT NULL,
  `created_at` datetime(3) NOT NULL,
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_upstream_links_pending_account_id` (`account_id`),
  KEY `idx_upstream_links_pending_expires_at` (`expires_at`),
  CONSTRAINT `fk_upstream_links_pending_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;
SET FOREIGN_KEY_CHECKS = 1;
