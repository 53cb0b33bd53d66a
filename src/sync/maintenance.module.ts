import { Module } from '@nestjs/common';
import { MaintenanceService } from './maintenance.service';

/** The purge jobs every replica runs (specification §9–§11). */
@Module({ providers: [MaintenanceService], exports: [MaintenanceService] })
export class MaintenanceModule {}
